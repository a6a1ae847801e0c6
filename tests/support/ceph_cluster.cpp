#include "support/ceph_cluster.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"
#include "support/test_servers.hpp"

extern char** environ;

namespace imgbatch::test_support {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDirPrefix = "imgbatch-ceph-";
constexpr auto kReadyTimeout = 90s;  // a loaded 2-core machine can be slow to start
constexpr auto kStopTimeout = 20s;
constexpr const char* kUser = "imgbatch-test";

[[noreturn]] void fail(const std::string& message) {
  throw std::runtime_error("CephCluster: " + message);
}

// `name` in PATH (then /usr/bin, /usr/sbin), or a clear error naming the package.
std::string find_program(const std::string& name, const std::string& package) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/bin:/usr/sbin";
  std::stringstream folders(path);
  for (std::string folder; std::getline(folders, folder, ':');) {
    if (folder.empty()) continue;
    const fs::path candidate = fs::path(folder) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  fail("the program " + name + " is not installed; run scripts/install-deps.sh, which installs " +
       "the Debian package '" + package + "'");
}

std::string random_uuid() {
  std::random_device device;
  std::uniform_int_distribution<int> nibble(0, 15);
  std::string uuid;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uuid += '-';
    int value = nibble(device);
    if (i == 12) value = 4;                // version 4
    if (i == 16) value = 8 | (value & 3);  // variant 10xx
    uuid += "0123456789abcdef"[value];
  }
  return uuid;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, size_t size) {
  return text.size() > size ? "…" + text.substr(text.size() - size) : text;
}

// This process's environment without CEPH_* variables (CEPH_ARGS, CEPH_CONF), which would
// point the daemons and tools at another cluster. Built before fork (see spawn).
std::vector<std::string> child_environment() {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry)
    if (!std::string_view(*entry).starts_with("CEPH_")) entries.emplace_back(*entry);
  return entries;
}

size_t append_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct Upload {
  const std::string& data;
  size_t offset;
};

size_t read_body(char* buffer, size_t size, size_t count, void* source) {
  auto* upload = static_cast<Upload*>(source);
  const size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

std::string xml_unescape(std::string text) {
  static const std::pair<const char*, const char*> kEntities[] = {{"&lt;", "<"},    {"&gt;", ">"},
                                                                  {"&quot;", "\""}, {"&apos;", "'"},
                                                                  {"&#39;", "'"},   {"&amp;", "&"}};
  for (const auto& [entity, character] : kEntities)
    for (size_t at = text.find(entity); at != std::string::npos; at = text.find(entity, at + 1))
      text.replace(at, std::strlen(entity), character);
  return text;
}

// The text of every <tag>…</tag> in `xml`, in order (ListObjectsV2 answers are flat enough).
std::vector<std::string> xml_values(const std::string& xml, const std::string& tag) {
  std::vector<std::string> values;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    at += open.size();
    const size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    values.push_back(xml_unescape(xml.substr(at, end - at)));
    at = end;
  }
  return values;
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace

CephCluster::CephCluster() {
  // The port of the monitor (written into the monitor map at mkfs) and the gateway's are
  // picked free a moment before the daemons bind them; another process may take one in
  // between. Then everything is set up again in a new folder with new ports.
  for (int attempt = 0;; ++attempt) {
    try {
      set_up();
      return;
    } catch (const std::runtime_error&) {
      const bool clash = !dir_.empty() && port_clash();
      stop_all();
      std::error_code ignored;
      if (!dir_.empty()) fs::remove_all(dir_, ignored);
      dir_.clear();
      if (!clash || attempt == 2) throw;
    }
  }
}

CephCluster::~CephCluster() {
  stop_all();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

CephCluster& CephCluster::shared() {
  static CephCluster cluster;
  return cluster;
}

std::string CephCluster::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(gateway_port_);
}

void CephCluster::set_up() {
  const std::string monmaptool = find_program("monmaptool", "ceph-common");
  const std::string ceph_mon = find_program("ceph-mon", "ceph-mon");
  const std::string ceph_osd = find_program("ceph-osd", "ceph-osd");
  const std::string ceph = find_program("ceph", "ceph-common");
  find_program("radosgw", "radosgw");
  const std::string radosgw_admin = find_program("radosgw-admin", "radosgw");

  const fs::path base = fs::temp_directory_path();
  sweep_stale_folders(base, kDirPrefix);
  std::string pattern = (base / (std::string(kDirPrefix) + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) fail("mkdtemp " + pattern + ": " + std::strerror(errno));
  dir_ = pattern;
  std::ofstream(dir_ / "owner.pid") << getpid() << "\n";
  for (const char* sub : {"log", "run", "crash", "mon.a", "osd0"}) fs::create_directory(dir_ / sub);
  fsid_ = random_uuid();
  monitor_port_ = free_port();
  gateway_port_ = free_port();
  while (gateway_port_ == monitor_port_) gateway_port_ = free_port();
  write_config();
  const std::string conf = config_.string();

  // Monitor: a map with this one monitor (messenger v2 only), its store, then the daemon.
  run("monmaptool",
      {monmaptool, "--create", "--clobber", "--fsid", fsid_, "--addv", "a",
       "[v2:127.0.0.1:" + std::to_string(monitor_port_) + "]", (dir_ / "monmap").string()});
  run("mon-mkfs",
      {ceph_mon, "-c", conf, "--mkfs", "-i", "a", "--monmap", (dir_ / "monmap").string()});
  monitor_ = spawn("mon.a", {ceph_mon, "-c", conf, "-f", "-i", "a"}, dir_ / "log" / "mon.a.out");

  // OSD: registered with the monitor (which waits for it to answer), its memstore, the daemon.
  const std::string osd_uuid = random_uuid();
  std::string osd_id =
      run("osd-new", {ceph, "-c", conf, "--connect-timeout", "60", "osd", "new", osd_uuid});
  while (!osd_id.empty() && std::isspace(static_cast<unsigned char>(osd_id.back())))
    osd_id.pop_back();
  if (osd_id != "0") fail("`ceph osd new` answered '" + osd_id + "' instead of OSD id 0");
  run("osd-mkfs", {ceph_osd, "-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid});
  osd_ = spawn("osd.0", {ceph_osd, "-c", conf, "-f", "-i", "0"}, dir_ / "log" / "osd.0.out");

  // Gateway: it creates its pools and zone on first start; the user is created once it
  // answers, so that radosgw-admin does not race it setting up the same zone.
  spawn_gateway();
  wait_for_gateway();
  run("user-create", {radosgw_admin, "-c", conf, "user", "create", "--uid", kUser, "--display-name",
                      kUser, "--access-key", kAccessKey, "--secret-key", kSecretKey});
}

void CephCluster::write_config() {
  config_ = dir_ / "ceph.conf";
  const std::string d = dir_.string();
  std::ofstream out(config_);
  out << "# Written by tests/support/ceph_cluster.cpp: a throwaway one-node test cluster.\n"
      << "[global]\n"
      << "fsid = " << fsid_ << "\n"
      << "mon host = v2:127.0.0.1:" << monitor_port_ << "\n"
      << "public addr = 127.0.0.1\n"
      << "cluster addr = 127.0.0.1\n"
      // No cephx inside the cluster; crc, or radosgw waits forever for a secure session.
      << "auth cluster required = none\n"
      << "auth service required = none\n"
      << "auth client required = none\n"
      << "auth supported = none\n"
      << "ms mon client mode = crc\n"
      << "keyring = /dev/null\n"
      // Commit at once instead of batching proposals for a second.
      << "paxos propose interval = 0.01\n"
      // One OSD: one replica, few placement groups, no autoscaling (there is no manager).
      << "mon allow pool size one = true\n"
      << "mon allow pool delete = true\n"
      << "osd pool default size = 1\n"
      << "osd pool default min size = 1\n"
      << "osd pool default pg num = 8\n"
      << "osd pool default pgp num = 8\n"
      << "osd pool default pg autoscale mode = off\n"
      << "osd crush chooseleaf type = 0\n"
      << "mon warn on pool no redundancy = false\n"
      // A nearly full CI disk must not stop the monitor: its store is tiny.
      << "mon data avail crit = 0\n"
      << "mon data avail warn = 0\n"
      // A taken port is found sooner (a daemon retries its bind thrice, 5 s apart).
      << "ms bind retry delay = 1\n"
      // Everything in our folder; no admin sockets (their paths could exceed 108 bytes).
      << "run dir = " << d << "/run\n"
      << "crash dir = " << d << "/crash\n"
      << "admin socket =\n"
      << "log file = " << d << "/log/$name.log\n"
      << "log to stderr = false\n"
      // A log line per request costs the gateway and the OSD CPU that, on the same two
      // cores, the benchmark would charge to S3 storage; production gateways log little.
      << "debug rgw = 0/0\n"
      << "debug osd = 0/0\n"
      << "debug ms = 0/0\n"
      << "debug objclass = 0/0\n"
      << "rgw enable usage log = false\n"
      // The gateway shares two cores with what it serves (the tests, `make bench`), so its
      // CPU per PUT counts; these cut it by about a third (BENCHMARKS.md, "Object storage").
      // Everything is on loopback, where a CRC of each message finds nothing that TCP's
      // checksum has not already covered.
      << "ms crc data = false\n"
      << "ms crc header = false\n"
      // No per-op history for `ceph daemon … dump_historic_ops`: nobody reads it here.
      << "osd enable op tracker = false\n"
      // Threads sized for one OSD on RAM with a handful of clients, not for a server with
      // many disks: one messenger thread per daemon, one op queue with one thread (memstore
      // does not block on a device), and 8 gateway threads (512 by default). Fewer threads
      // that each do more mean fewer wake-ups and context switches per request.
      << "ms async op threads = 1\n"
      << "osd op num shards = 1\n"
      << "osd op num threads per shard = 1\n"
      << "rgw thread pool size = 8\n"
      << "err to stderr = true\n"
      << "pid file =\n"
      << "mon data = " << d << "/mon.$id\n"
      << "osd data = " << d << "/osd$id\n"
      << "osd objectstore = memstore\n"
      << "memstore device bytes = 1073741824\n"
      << "[client.rgw]\n"
      << "rgw frontends = beast endpoint=127.0.0.1:" << gateway_port_ << "\n";
  if (!out.flush()) fail("cannot write " + config_.string());
}

std::string CephCluster::run(const std::string& name, const std::vector<std::string>& args) {
  const fs::path output = dir_ / "log" / (name + ".out");
  const pid_t pid = spawn(name, args, output);
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) fail("waitpid: " + std::string(std::strerror(errno)));
    // A daemon that exits meanwhile (a monitor whose port was taken) fails the set-up at
    // once, with its log, rather than when the command gives up waiting for it.
    try {
      check_daemons_alive();
    } catch (const std::runtime_error&) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fail(name + " did not finish within 90 s; its output:\n" + tail(read_file(output), 3000) +
           "\nmonitor log:\n" + log_tail("mon.a"));
    }
    std::this_thread::sleep_for(10ms);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(name + " failed (" + args.front() + ", status " + std::to_string(status) +
         "); its output:\n" + tail(read_file(output), 3000));
  return read_file(output.string() + ".stdout");
}

pid_t CephCluster::spawn(const std::string& name, const std::vector<std::string>& args,
                         const fs::path& output) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = child_environment();
  std::vector<char*> envp;
  for (auto& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  // stdout separately, for the commands whose answer we read (`ceph osd new`).
  const fs::path stdout_path = output.string() + ".stdout";
  const int err = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (err < 0 || out < 0 || null < 0) {
    const std::string reason = std::strerror(errno);
    for (const int fd : {err, out, null})
      if (fd >= 0) close(fd);
    fail("cannot open " + output.string() + " for " + name + ": " + reason);
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec: the parent has other threads.
    // SIGKILL when the thread that forked us dies: the data is thrown away anyway.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(125);
    if (dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(124);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  const int fork_errno = errno;
  for (const int fd : {err, out, null}) close(fd);
  if (pid < 0) fail("fork: " + std::string(std::strerror(fork_errno)));
  return pid;
}

void CephCluster::spawn_gateway() {
  gateway_ =
      spawn("client.rgw",
            {find_program("radosgw", "radosgw"), "-c", config_.string(), "-f", "-n", "client.rgw"},
            dir_ / "log" / "client.rgw.out");
}

void CephCluster::check_daemons_alive() {
  const std::pair<pid_t*, const char*> daemons[] = {
      {&monitor_, "mon.a"}, {&osd_, "osd.0"}, {&gateway_, "client.rgw"}};
  for (const auto& [pid, name] : daemons) {
    int status = 0;
    if (*pid > 0 && waitpid(*pid, &status, WNOHANG) == *pid) {
      *pid = 0;
      fail(std::string(name) + " exited (status " + std::to_string(status) + "); its log:\n" +
           log_tail(name));
    }
  }
}

void CephCluster::wait_for_gateway() {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  for (;;) {
    check_daemons_alive();
    // An answer with the gateway's request id (an anonymous bucket list: 200) means it
    // serves requests; checking the header, not just any answer, because whoever took the
    // port between free_port() and the gateway's bind would answer too.
    std::string headers;
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, (endpoint() + "/").c_str());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (code == CURLE_OK && status > 0 && headers.find("x-amz-request-id:") != std::string::npos)
      return;
    if (std::chrono::steady_clock::now() > deadline)
      fail("the gateway did not answer within 90 s; its log:\n" + log_tail("client.rgw") +
           "\nmonitor log:\n" + log_tail("mon.a"));
    std::this_thread::sleep_for(20ms);
  }
}

void CephCluster::stop_all() {
  // SIGKILL: nothing of the cluster is kept, and a clean shutdown only costs time.
  stop_server_process(gateway_, SIGKILL, kStopTimeout);
  stop_server_process(osd_, SIGKILL, kStopTimeout);
  stop_server_process(monitor_, SIGKILL, kStopTimeout);
}

void CephCluster::stop_gateway() {
  // SIGTERM: radosgw closes its listener and unregisters its watches on the cluster, so
  // the next gateway's cache notifications do not wait for a dead watcher to time out.
  stop_server_process(gateway_, SIGTERM, kStopTimeout);
}

void CephCluster::start_gateway() {
  if (gateway_ > 0) return;
  spawn_gateway();
  wait_for_gateway();
}

std::string CephCluster::log_tail(const std::string& name) const {
  const std::string log = read_file(dir_ / "log" / (name + ".log"));
  const std::string out = read_file(dir_ / "log" / (name + ".out"));
  return tail(log, 3000) + (out.empty() ? "" : "\n(stderr) " + tail(out, 1000));
}

bool CephCluster::port_clash() const {
  for (const char* name : {"mon.a", "client.rgw"})
    if (log_tail(name).find("Address already in use") != std::string::npos) return true;
  return false;
}

CephCluster::Response CephCluster::request(const std::string& method, const std::string& path,
                                           const std::string& body,
                                           const std::vector<std::string>& headers,
                                           const std::string& secret_key) const {
  Response response;
  CURL* curl = curl_easy_init();
  if (!curl) {
    response.error = "curl_easy_init failed";
    return response;
  }
  Upload upload{body, 0};
  curl_slist* header_list = nullptr;
  // curl 7.88 signs the payload hash header but does not add it; S3 requires one.
  header_list = curl_slist_append(header_list, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  // No "Expect:" to suppress 100-continue: curl 7.88 would sign that empty header without
  // sending it, and the gateway would refuse the signature.
  for (const auto& header : headers) header_list = curl_slist_append(header_list, header.c_str());
  const std::string url = endpoint() + path;
  const std::string sigv4 = std::string("aws:amz:") + kRegion + ":s3";
  const std::string user = std::string(kAccessKey) + ":" + secret_key;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERPWD, user.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT") {
    // An upload (read callback, known size), as an S3 client sends a PUT.
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) {
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
      curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.error = curl_easy_strerror(code);
  }
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  return response;
}

void CephCluster::create_bucket(const std::string& name) {
  const Response response = request("PUT", "/" + name);
  if (response.status != 200)
    fail("cannot create bucket " + name + ": HTTP " + std::to_string(response.status) + " " +
         response.error + response.body);
}

std::string CephCluster::create_bucket() {
  const std::string name =
      "imgbatch-test-" + std::to_string(getpid()) + "-" + std::to_string(++next_bucket_);
  create_bucket(name);
  return name;
}

std::vector<std::string> CephCluster::list_keys(const std::string& bucket) {
  std::vector<std::string> keys;
  std::string token;
  for (;;) {
    // curl 7.88 signs the query as given: parameters must already be in canonical form
    // (sorted by name, percent-encoded in upper case), or the signature does not match.
    std::string path = "/" + bucket + "?";
    if (!token.empty()) path += "continuation-token=" + url_encode(token) + "&";
    path += "list-type=2";
    const Response response = request("GET", path);
    if (response.status != 200)
      fail("cannot list bucket " + bucket + ": HTTP " + std::to_string(response.status) + " " +
           response.error + response.body);
    for (auto& key : xml_values(response.body, "Key")) keys.push_back(std::move(key));
    const auto truncated = xml_values(response.body, "IsTruncated");
    const auto next = xml_values(response.body, "NextContinuationToken");
    if (truncated.empty() || truncated.front() != "true" || next.empty()) return keys;
    token = next.front();
  }
}

}  // namespace imgbatch::test_support
