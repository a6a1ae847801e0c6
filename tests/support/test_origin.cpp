#include "support/test_origin.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace imgbatch::test_support {
namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

struct Request {
  std::string method;
  std::string path;   // without the query
  std::string query;  // without the '?'
  bool keep_alive = true;
  std::size_t content_length = 0;
  std::string if_none_match;  // lower case, as every header value here
  std::string if_modified_since;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<long long> to_number(std::string_view s) {
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<Request> parse_request(std::string_view head) {
  Request req;
  const auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  req.method = std::string(line.substr(0, sp1));
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  const auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  req.keep_alive = version == "HTTP/1.1";

  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    const std::string_view header = rest.substr(0, end);
    const auto colon = header.find(':');
    if (colon != std::string_view::npos) {
      const std::string name = lower(header.substr(0, colon));
      const std::string value = lower(trim(header.substr(colon + 1)));
      if (name == "connection")
        req.keep_alive = value != "close" && (req.keep_alive || value == "keep-alive");
      if (name == "content-length")
        req.content_length = static_cast<std::size_t>(to_number(value).value_or(0));
      if (name == "if-none-match") req.if_none_match = value;
      if (name == "if-modified-since") req.if_modified_since = value;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
  return req;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

std::string content_type_for(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : lower(name.substr(dot + 1));
  static const std::map<std::string, std::string> kTypes = {
      {"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"}, {"png", "image/png"},
      {"gif", "image/gif"},   {"webp", "image/webp"}, {"tif", "image/tiff"},
      {"tiff", "image/tiff"}, {"avif", "image/avif"}, {"svg", "image/svg+xml"},
      {"csv", "text/csv"},    {"html", "text/html"},  {"txt", "text/plain"}};
  const auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

struct TestOrigin::State {
  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  // Marks a request as being worked on until its response starts (see
  // max_concurrent_requests()).
  class Working {
   public:
    explicit Working(State& s) : s_(s) {
      std::lock_guard lock(s_.stats_mutex);
      s_.max_concurrent = std::max(s_.max_concurrent, ++s_.concurrent);
    }
    ~Working() { release(); }
    void release() {
      if (released_) return;
      released_ = true;
      std::lock_guard lock(s_.stats_mutex);
      --s_.concurrent;
    }

   private:
    State& s_;
    bool released_ = false;
  };

  std::filesystem::path files_dir;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::thread accept_thread;

  std::atomic<bool> stopping{false};
  bool held_released = false;  // set by a request to /release; guarded by stop_mutex
  std::mutex stop_mutex;
  std::condition_variable stop_cv;

  std::mutex connections_mutex;
  std::list<Connection> connections;

  mutable std::mutex stats_mutex;
  std::map<std::string, std::size_t, std::less<>> counts;
  std::size_t total = 0;
  std::size_t accepted = 0;
  std::size_t concurrent = 0;
  std::size_t max_concurrent = 0;

  std::mutex files_mutex;
  std::map<std::string, std::shared_ptr<const std::string>> files;
  std::map<std::string, std::string, std::less<>> aliases;  // guarded by files_mutex
  std::size_t not_modified = 0;                             // guarded by stats_mutex

  // Sleeps unless the origin is shutting down; false when it is.
  bool pause(std::chrono::milliseconds ms) {
    std::unique_lock lock(stop_mutex);
    return !stop_cv.wait_for(lock, ms, [&] { return stopping.load(); });
  }

  // Waits until /release is requested or the origin shuts down; false on shutdown.
  bool hold() {
    std::unique_lock lock(stop_mutex);
    stop_cv.wait(lock, [&] { return held_released || stopping.load(); });
    return !stopping;
  }

  void release_held() {
    {
      std::lock_guard lock(stop_mutex);
      held_released = true;
    }
    stop_cv.notify_all();
  }

  std::shared_ptr<const std::string> file(std::string_view name) {
    const std::string key = percent_decode(name);
    if (key.empty() || key.find("..") != std::string::npos || key.front() == '/') return nullptr;
    std::lock_guard lock(files_mutex);
    if (const auto it = files.find(key); it != files.end()) return it->second;
    std::ifstream in(files_dir / key, std::ios::binary);
    if (!in) return nullptr;
    std::ostringstream content;
    content << in.rdbuf();
    auto data = std::make_shared<const std::string>(std::move(content).str());
    files.emplace(key, data);
    return data;
  }

  std::size_t count_request(const std::string& path) {
    std::lock_guard lock(stats_mutex);
    ++total;
    return ++counts[path];
  }

  static std::string head(int status, std::string_view content_type,
                          std::optional<long long> length, bool keep_alive,
                          std::string_view extra = {}) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    if (!content_type.empty()) h += "Content-Type: " + std::string(content_type) + "\r\n";
    if (length) h += "Content-Length: " + std::to_string(*length) + "\r\n";
    h += extra;
    h += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    h += "\r\n";
    return h;
  }

  // Writes a whole response in one send (small responses would otherwise wait on Nagle).
  static bool respond(int fd, const Request& req, Working& w, int status, std::string_view type,
                      std::string_view body, std::string_view extra = {}) {
    w.release();
    std::string out =
        head(status, type, static_cast<long long>(body.size()), req.keep_alive, extra);
    if (req.method != "HEAD") out.append(body);
    return send_all(fd, out) && req.keep_alive;
  }

  bool serve_file(int fd, const Request& req, Working& w, std::string_view name) {
    const auto data = file(name);
    if (!data) return respond(fd, req, w, 404, "text/plain", "no such file\n");
    return respond(fd, req, w, 200, content_type_for(std::string(name)), *data);
  }

  // The file with validators: an ETag made from its bytes and a fixed Last-Modified; a
  // request that names either gets 304 without a body.
  bool serve_validated(int fd, const Request& req, Working& w, std::string_view name) {
    const auto data = file(name);
    if (!data) return respond(fd, req, w, 404, "text/plain", "no such file\n");
    const std::string etag = "\"" + std::to_string(std::hash<std::string>{}(*data)) + "\"";
    const std::string last_modified = "Sat, 05 Dec 2026 10:00:00 GMT";
    const std::string validators = "ETag: " + etag + "\r\nLast-Modified: " + last_modified + "\r\n";
    const bool fresh = req.if_none_match.empty()
                           ? req.if_modified_since == lower(last_modified)
                           : req.if_none_match.find(etag) != std::string::npos;
    if (fresh) {
      {
        std::lock_guard lock(stats_mutex);
        ++not_modified;
      }
      w.release();
      std::string out = head(304, "", std::nullopt, req.keep_alive, validators);
      return send_all(fd, out) && req.keep_alive;
    }
    return respond(fd, req, w, 200, content_type_for(std::string(name)), *data, validators);
  }

  std::string alias(std::string_view key) {
    std::lock_guard lock(files_mutex);
    const auto it = aliases.find(key);
    return it == aliases.end() ? std::string(key) : it->second;
  }

  // Joins the rest of the path (for NAMEs given after route arguments).
  static std::string rest(const std::vector<std::string_view>& parts, std::size_t from) {
    std::string name;
    for (std::size_t i = from; i < parts.size(); ++i) {
      if (i > from) name += '/';
      name += parts[i];
    }
    return name;
  }

  // Handles one request; returns whether the connection stays open.
  bool handle(int fd, const Request& req) {
    const std::size_t nth = count_request(req.path);
    Working w(*this);
    const auto parts = split_path(req.path);
    const std::string_view route = parts[0];
    const auto number = [&](std::size_t i) {
      return i < parts.size() ? to_number(parts[i]) : std::nullopt;
    };

    if (route == "photos" && parts.size() >= 2) return serve_file(fd, req, w, rest(parts, 1));
    if (route == "validated" && parts.size() >= 2)
      return serve_validated(fd, req, w, rest(parts, 1));
    if (route == "alias" && parts.size() >= 2)
      return serve_validated(fd, req, w, alias(rest(parts, 1)));

    if (route == "status" && number(1)) {
      const int status = static_cast<int>(*number(1));
      const bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
      return respond(fd, req, w, status, "text/plain",
                     no_body ? "" : "status " + std::to_string(status) + "\n");
    }
    if (route == "flaky" && number(1) && parts.size() >= 3) {
      if (nth <= static_cast<std::size_t>(*number(1)))
        return respond(fd, req, w, 500, "text/plain", "flaky: failing on purpose\n");
      return serve_file(fd, req, w, rest(parts, 2));
    }
    if (route == "retry-after" && parts.size() >= 3) {
      if (nth == 1)
        return respond(fd, req, w, 503, "text/plain", "come back later\n",
                       "Retry-After: " + percent_decode(parts[1]) + "\r\n");
      return serve_file(fd, req, w, rest(parts, 2));
    }
    if (route == "sleep" && number(1) && parts.size() >= 3) {
      if (!pause(std::chrono::milliseconds(*number(1)))) return false;
      return serve_file(fd, req, w, rest(parts, 2));
    }
    if (route == "hold" && parts.size() >= 2) {
      if (!hold()) return false;
      return serve_file(fd, req, w, rest(parts, 1));
    }
    if (route == "release" && parts.size() == 1) {
      release_held();
      return respond(fd, req, w, 200, "text/plain", "released\n");
    }
    if (route == "slow" && number(1) && *number(1) > 0 && parts.size() >= 3) {
      const auto data = file(rest(parts, 2));
      if (!data) return respond(fd, req, w, 404, "text/plain", "no such file\n");
      const auto per_second = static_cast<std::size_t>(*number(1));
      w.release();
      if (!send_all(fd, head(200, content_type_for(rest(parts, 2)),
                             static_cast<long long>(data->size()), req.keep_alive)))
        return false;
      for (std::size_t at = 0; at < data->size(); at += per_second) {
        if (at > 0 && !pause(std::chrono::seconds(1))) return false;
        if (!send_all(fd, std::string_view(*data).substr(at, per_second))) return false;
      }
      return req.keep_alive;
    }
    if (route == "short" && parts.size() >= 2) {
      const auto data = file(rest(parts, 1));
      if (!data) return respond(fd, req, w, 404, "text/plain", "no such file\n");
      w.release();
      std::string out =
          head(200, content_type_for(rest(parts, 1)), static_cast<long long>(data->size()), false);
      out.append(*data, 0, data->size() / 2);
      send_all(fd, out);
      return false;
    }
    if (route == "huge" && parts.size() == 1) {
      w.release();
      if (!send_all(fd, head(200, "image/jpeg", 10'000'000'000LL, false))) return false;
      const std::string zeros(64 * 1024, '\0');
      while (!stopping && send_all(fd, zeros)) {
      }
      return false;
    }
    if (route == "stream") {
      const auto limit = number(1);
      w.release();
      if (!send_all(fd, head(200, "image/jpeg", std::nullopt, req.keep_alive,
                             "Transfer-Encoding: chunked\r\n")))
        return false;
      constexpr std::size_t kChunk = 64 * 1024;
      const std::string chunk = "10000\r\n" + std::string(kChunk, '\0') + "\r\n";
      long long left = limit.value_or(-1);
      while (!stopping && (left < 0 || left >= static_cast<long long>(kChunk))) {
        if (!send_all(fd, chunk)) return false;
        if (left > 0) left -= static_cast<long long>(kChunk);
      }
      if (stopping) return false;
      std::ostringstream tail;
      if (left > 0) tail << std::hex << left << "\r\n" << std::string(left, '\0') << "\r\n";
      tail << "0\r\n\r\n";
      return send_all(fd, tail.str()) && req.keep_alive;
    }
    if (route == "random" && parts.size() == 1) {
      std::string body(65536, '\0');
      std::mt19937 gen(std::random_device{}());
      std::uniform_int_distribution<int> byte(0, 255);
      for (char& c : body) c = static_cast<char>(byte(gen));
      return respond(fd, req, w, 200, "image/jpeg", body);
    }
    if (route == "html" && parts.size() == 1) {
      return respond(fd, req, w, 200, "text/html; charset=utf-8",
                     "<!doctype html><html><head><title>Not an image</title></head>"
                     "<body><p>This page is not an image.</p></body></html>\n");
    }
    if (route == "redirect" && number(1) && parts.size() >= 3) {
      const long long n = *number(1);
      const std::string name = rest(parts, 2);
      if (n <= 0) return serve_file(fd, req, w, name);
      const std::string next =
          n == 1 ? "/photos/" + name : "/redirect/" + std::to_string(n - 1) + "/" + name;
      return respond(fd, req, w, 302, "text/plain", "redirecting\n", "Location: " + next + "\r\n");
    }
    if (route == "redirect-to" && parts.size() == 1) {
      const auto target = query_param(req.query, "url");
      if (!target) return respond(fd, req, w, 400, "text/plain", "missing url\n");
      return respond(fd, req, w, 302, "text/plain", "redirecting\n",
                     "Location: " + *target + "\r\n");
    }
    return respond(fd, req, w, 404, "text/plain", "no such route\n");
  }

  void serve_connection(int fd) {
    std::string buffer;
    char chunk[16 * 1024];
    while (!stopping) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (buffer.size() > kMaxHeaderBytes) return;
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      const auto req = parse_request(std::string_view(buffer).substr(0, end));
      buffer.erase(0, end + 4);
      if (!req) return;
      while (buffer.size() < req->content_length) {  // a request body is read and dropped
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      buffer.erase(0, req->content_length);
      if (!handle(fd, *req)) return;
    }
  }

  void reap_finished() {
    std::lock_guard lock(connections_mutex);
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->done) {
        it->thread.join();
        ::close(it->fd);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p{listen_fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      reap_finished();
      if (ready <= 0 || stopping) continue;
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      {
        std::lock_guard lock(stats_mutex);
        ++accepted;
      }
      std::lock_guard lock(connections_mutex);
      Connection& c = connections.emplace_back();
      c.fd = fd;
      // The thread never closes its fd (the destructor may still shut it down); it only
      // ends the TCP stream so the client sees the close at once.
      c.thread = std::thread([this, &c] {
        serve_connection(c.fd);
        ::shutdown(c.fd, SHUT_RDWR);
        c.done = true;
      });
    }
  }
};

TestOrigin::TestOrigin(std::filesystem::path files_dir) : state_(std::make_unique<State>()) {
  state_->files_dir = std::move(files_dir);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("test origin: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, SOMAXCONN) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("test origin: cannot listen: ") + std::strerror(errno));
  }
  state_->listen_fd = fd;
  state_->port = ntohs(addr.sin_port);
  state_->accept_thread = std::thread([s = state_.get()] { s->accept_loop(); });
}

TestOrigin::~TestOrigin() {
  {
    std::lock_guard lock(state_->stop_mutex);
    state_->stopping = true;
  }
  state_->stop_cv.notify_all();
  ::shutdown(state_->listen_fd, SHUT_RDWR);  // wakes the accept loop's poll at once
  state_->accept_thread.join();
  ::close(state_->listen_fd);
  std::lock_guard lock(state_->connections_mutex);
  for (auto& c : state_->connections) ::shutdown(c.fd, SHUT_RDWR);  // wakes recv and send
  for (auto& c : state_->connections) {
    c.thread.join();
    ::close(c.fd);
  }
}

std::uint16_t TestOrigin::port() const { return state_->port; }

std::string TestOrigin::base_url() const {
  return "http://127.0.0.1:" + std::to_string(state_->port);
}

std::string TestOrigin::url(std::string_view path) const { return base_url() + std::string(path); }

std::size_t TestOrigin::request_count(std::string_view path) const {
  std::lock_guard lock(state_->stats_mutex);
  const auto it = state_->counts.find(path);
  return it == state_->counts.end() ? 0 : it->second;
}

std::size_t TestOrigin::total_requests() const {
  std::lock_guard lock(state_->stats_mutex);
  return state_->total;
}

std::size_t TestOrigin::connections_accepted() const {
  std::lock_guard lock(state_->stats_mutex);
  return state_->accepted;
}

std::size_t TestOrigin::max_concurrent_requests() const {
  std::lock_guard lock(state_->stats_mutex);
  return state_->max_concurrent;
}

std::size_t TestOrigin::not_modified_responses() const {
  std::lock_guard lock(state_->stats_mutex);
  return state_->not_modified;
}

void TestOrigin::set_alias(std::string_view key, std::string_view name) {
  std::lock_guard lock(state_->files_mutex);
  state_->aliases[std::string(key)] = std::string(name);
}

void TestOrigin::reset_stats() {
  std::lock_guard lock(state_->stats_mutex);
  state_->not_modified = 0;
  state_->counts.clear();
  state_->total = 0;
  state_->accepted = 0;
  state_->max_concurrent = state_->concurrent;
}

std::filesystem::path TestOrigin::photos_dir() {
  return std::filesystem::path(IMGBATCH_TESTDATA_DIR) / "photos";
}

}  // namespace imgbatch::test_support
