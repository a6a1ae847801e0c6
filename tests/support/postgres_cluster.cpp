#include "support/postgres_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/test_servers.hpp"

namespace imgbatch::test_support {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDirPrefix = "imgbatch-pg-";
constexpr auto kReadyTimeout = 60s;  // a loaded 2-core machine can be slow to start
constexpr auto kStopTimeout = 30s;

[[noreturn]] void fail(const std::string& message) {
  throw std::runtime_error("PostgresCluster: " + message);
}

// The bin folder of the newest PostgreSQL server installed the Debian way.
fs::path find_bin_dir() {
  if (const char* chosen = std::getenv("IMGBATCH_PG_BINDIR"); chosen && *chosen) {
    if (!fs::exists(fs::path(chosen) / "initdb"))
      fail(std::string("IMGBATCH_PG_BINDIR=") + chosen + " has no initdb");
    return chosen;
  }
  fs::path best;
  double best_version = -1;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", error)) {
    const fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "postgres")) continue;
    const double version = std::atof(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin;
    }
  }
  if (best.empty())
    fail(
        "the PostgreSQL server binaries (initdb, postgres) are not installed under "
        "/usr/lib/postgresql/*/bin; run scripts/install-deps.sh, which installs the Debian "
        "package 'postgresql' (or set IMGBATCH_PG_BINDIR to a folder holding initdb)");
  return best;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string reason = std::strerror(errno);
    close(fd);
    fail("cannot find a free port: " + reason);
  }
  close(fd);
  return ntohs(address.sin_port);
}

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};

std::unique_ptr<PGconn, ConnDeleter> admin_connection(int port, const std::string& dbname) {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port) +
                               " user=postgres connect_timeout=10 dbname=" + dbname;
  std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb(conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK)
    fail("cannot connect to the test cluster: " + std::string(PQerrorMessage(conn.get())));
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);  // DROP ... CASCADE
  return conn;
}

}  // namespace

PostgresCluster::PostgresCluster() : bin_dir_(find_bin_dir()) {
  fs::path base = fs::temp_directory_path();
  if (geteuid() == 0) {
    const passwd* user = getpwnam("postgres");
    if (!user)
      fail(
          "running as root, but there is no 'postgres' user to run the server as (initdb "
          "refuses root); run scripts/install-deps.sh, whose 'postgresql' package creates it");
    uid_ = user->pw_uid;
    gid_ = user->pw_gid;
    switch_user_ = true;
    base = "/tmp";  // TMPDIR may be a folder that the postgres user cannot enter
  } else {
    uid_ = geteuid();
    gid_ = getegid();
  }
  // A postmaster of a dead test process that has not died yet still holds its folder.
  sweep_stale_folders(base, kDirPrefix, [](const fs::path& folder) {
    return process_alive(read_pid_file(folder / "data" / "postmaster.pid"));
  });
  std::string pattern = (base / (std::string(kDirPrefix) + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) fail("mkdtemp " + pattern + ": " + std::strerror(errno));
  dir_ = pattern;
  log_ = dir_ / "server.log";
  try {
    std::ofstream(dir_ / "owner.pid") << getpid() << "\n";
    if (switch_user_ && chown(dir_.c_str(), uid_, gid_) != 0)
      fail("chown " + dir_.string() + ": " + std::strerror(errno));

    const std::vector<std::string> initdb = {(bin_dir_ / "initdb").string(),
                                             "-D",
                                             (dir_ / "data").string(),
                                             "-A",
                                             "trust",
                                             "-U",
                                             "postgres",
                                             "--no-sync",
                                             "-E",
                                             "UTF8",
                                             "--locale=C"};
    const pid_t pid = spawn(initdb, false);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail("initdb failed; its output:\n" + log_tail());

    // The port may be taken between free_port() and the server's bind: try a few.
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      try {
        start();
        break;
      } catch (const std::runtime_error&) {
        if (attempt == 2) throw;
      }
    }
  } catch (...) {
    if (postmaster_ > 0) stop_postmaster(SIGQUIT);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

PostgresCluster::~PostgresCluster() {
  if (postmaster_ > 0) stop_postmaster(SIGQUIT);  // immediate: the data is thrown away
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

PostgresCluster& PostgresCluster::shared() {
  static PostgresCluster cluster;
  return cluster;
}

pid_t PostgresCluster::spawn(const std::vector<std::string>& args, bool die_with_parent) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0 || (switch_user_ && fchown(log, uid_, gid_) != 0)) {
    const std::string reason = std::strerror(errno);
    if (log >= 0) close(log);
    if (null >= 0) close(null);
    fail("cannot open " + log_.string() + " for the server: " + reason);
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec: the parent has other threads.
    if (switch_user_ && (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0))
      _exit(126);
    // After setuid, which would clear it. Dies with the thread that forked it.
    if (die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid() != parent))
      _exit(125);
    if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(124);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(log);
  close(null);
  if (pid < 0) fail(std::string("fork: ") + std::strerror(fork_errno));
  return pid;
}

void PostgresCluster::spawn_postmaster() {
  const std::vector<std::string> args = {
      (bin_dir_ / "postgres").string(), "-D", (dir_ / "data").string(), "-p", std::to_string(port_),
      "-h", "127.0.0.1", "-k", dir_.string(),
      // A test cluster: nothing needs to survive a crash of the machine.
      "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
      "wal_level=minimal", "-c", "max_wal_senders=0", "-c", "shared_buffers=32MB", "-c",
      "max_connections=100"};
  postmaster_ = spawn(args, true);
}

void PostgresCluster::wait_until_ready() {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) +
                               " user=postgres dbname=postgres connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (PQping(conninfo.c_str()) != PQPING_OK) {
    int status = 0;
    if (waitpid(postmaster_, &status, WNOHANG) == postmaster_) {
      postmaster_ = 0;
      fail("the server exited while starting; its log:\n" + log_tail());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop_postmaster(SIGQUIT);
      fail("the server did not accept connections within 60 s; its log:\n" + log_tail());
    }
    std::this_thread::sleep_for(20ms);
  }
}

void PostgresCluster::start() {
  if (postmaster_ > 0) return;
  spawn_postmaster();
  wait_until_ready();
}

void PostgresCluster::stop() {
  if (postmaster_ > 0) stop_postmaster(SIGINT);  // fast shutdown
}

void PostgresCluster::stop_postmaster(int signal) {
  stop_server_process(postmaster_, signal, kStopTimeout);
}

std::string PostgresCluster::log_tail() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

std::string PostgresCluster::uri(const std::string& dbname) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
}

std::string PostgresCluster::create_database() {
  const std::string name =
      "imgbatch_" + std::to_string(getpid()) + "_" + std::to_string(++next_name_);
  execute("postgres", "CREATE DATABASE " + name);
  return name;
}

std::string PostgresCluster::create_schema() {
  const std::string name = "test_" + std::to_string(getpid()) + "_" + std::to_string(++next_name_);
  execute(kSchemasDatabase, "CREATE SCHEMA " + name);
  return name;
}

std::string PostgresCluster::schema_uri(const std::string& schema) const {
  // libpq URI query parameter: options=-c search_path=SCHEMA, percent-encoded.
  return uri(kSchemasDatabase) + "?options=-csearch_path%3D" + schema;
}

void PostgresCluster::drop_schema(const std::string& schema) {
  execute(kSchemasDatabase, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
}

void PostgresCluster::execute(const std::string& dbname, const std::string& sql) const {
  const auto conn = admin_connection(port_, dbname);
  const std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    fail(sql + ": " + PQresultErrorMessage(result.get()));
}

std::vector<std::string> PostgresCluster::column(const std::string& dbname,
                                                 const std::string& sql) const {
  const auto conn = admin_connection(port_, dbname);
  const std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
    fail(sql + ": " + PQresultErrorMessage(result.get()));
  std::vector<std::string> values;
  for (int row = 0; row < PQntuples(result.get()); ++row)
    values.emplace_back(PQgetisnull(result.get(), row, 0) ? "NULL"
                                                          : PQgetvalue(result.get(), row, 0));
  return values;
}

}  // namespace imgbatch::test_support
