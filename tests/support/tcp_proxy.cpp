#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace imgbatch::test_support {

namespace {

// How long a cut after forwarding waits for the server's answer before closing anyway.
constexpr int kAnswerWaitMs = 10'000;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// A read of up to `size` bytes; 0 at the end of the stream or on an error.
std::size_t receive(int fd, char* data, std::size_t size) {
  for (;;) {
    const auto n = ::recv(fd, data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

struct TcpProxy::Pair {
  int client = -1;
  int server = -1;
  // Progress towards the cut of arming number `arming`: the trigger seen, and the
  // client's last bytes, so that a marker split over two reads is still found.
  unsigned arming = 0;
  bool saw_trigger = false;
  std::string carry;
};

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("TcpProxy: socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string reason = std::strerror(errno);
    close_fd(listen_fd_);
    throw std::runtime_error("TcpProxy: cannot listen on loopback: " + reason);
  }
  port_ = ntohs(address.sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    close_fd(listen_fd_);
    throw std::runtime_error("TcpProxy: pipe failed");
  }
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  const char byte = 0;
  (void)!::write(wake_pipe_[1], &byte, 1);
  thread_.join();
  close_fd(listen_fd_);
  close_fd(wake_pipe_[0]);
  close_fd(wake_pipe_[1]);
}

std::string TcpProxy::postgres_commit_message() {
  return std::string(
      "Q\0\0\0\x0b"
      "COMMIT\0",
      12);
}

void TcpProxy::arm_cut(std::string trigger, std::string cut_at, Cut how) {
  if (cut_at.empty()) throw std::invalid_argument("TcpProxy::arm_cut: empty cut marker");
  std::lock_guard lock(mutex_);
  trigger_ = std::move(trigger);
  cut_at_ = std::move(cut_at);
  how_ = how;
  armed_ = true;
  cut_done_ = false;
  ++arming_;
}

bool TcpProxy::wait_for_cut(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cut_cv_.wait_for(lock, timeout, [this] { return cut_done_; });
}

bool TcpProxy::cut_done() const {
  std::lock_guard lock(mutex_);
  return cut_done_;
}

bool TcpProxy::chunk_triggers_cut(Pair& pair, const std::string& chunk) {
  std::lock_guard lock(mutex_);
  if (!armed_) return false;
  if (pair.arming != arming_) {  // progress towards an earlier arming does not count
    pair.arming = arming_;
    pair.saw_trigger = false;
    pair.carry.clear();
  }
  const std::string seen = pair.carry + chunk;
  std::size_t from = 0;
  if (!pair.saw_trigger) {
    const auto at = trigger_.empty() ? 0 : seen.find(trigger_);
    if (at != std::string::npos) {
      pair.saw_trigger = true;
      from = at + trigger_.size();
    }
  }
  const bool cut = pair.saw_trigger && seen.find(cut_at_, from) != std::string::npos;
  if (cut) {
    armed_ = false;
  } else {
    // Enough of the end to complete a marker that the next read finishes; but once the
    // trigger is seen, nothing before it, nor the trigger itself, may count as the cut.
    const std::size_t keep = std::max(trigger_.size(), cut_at_.size());
    const std::size_t start = std::max(from, seen.size() > keep ? seen.size() - keep : 0);
    pair.carry = seen.substr(std::min(start, seen.size()));
  }
  return cut;
}

void TcpProxy::run() {
  std::vector<Pair> pairs;
  std::vector<char> buffer(64 * 1024);
  while (!stop_) {
    std::vector<pollfd> fds{{wake_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& pair : pairs) {
      fds.push_back({pair.client, POLLIN, 0});
      fds.push_back({pair.server, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (stop_ || fds[0].revents) break;
    // Pair i's client is fds[2 + 2i], its server fds[3 + 2i]; pairs accepted below are
    // polled from the next round on.
    const std::size_t polled = pairs.size();
    if (fds[1].revents & POLLIN) {
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        ++accepted_;
        const int one = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const int server = connect_loopback(target_port_);
        if (server < 0) {
          ::close(client);  // the client sees the refusal as its server going away
        } else {
          Pair pair;
          pair.client = client;
          pair.server = server;
          pairs.push_back(std::move(pair));
        }
      }
    }
    std::vector<bool> closed(pairs.size(), false);
    for (std::size_t i = 0; i < polled; ++i) {
      Pair& pair = pairs[i];
      const auto client_events = fds[2 + 2 * i].revents;
      const auto server_events = fds[3 + 2 * i].revents;
      if (server_events & (POLLIN | POLLHUP | POLLERR)) {
        const std::size_t n = receive(pair.server, buffer.data(), buffer.size());
        if (n == 0 || !send_all(pair.client, buffer.data(), n)) {
          closed[i] = true;
          continue;
        }
      }
      if (!(client_events & (POLLIN | POLLHUP | POLLERR))) continue;
      const std::size_t n = receive(pair.client, buffer.data(), buffer.size());
      if (n == 0) {
        closed[i] = true;
        continue;
      }
      const std::string chunk(buffer.data(), n);
      const bool cut = chunk_triggers_cut(pair, chunk);
      Cut how = Cut::after_server_answers;
      if (cut) {
        std::lock_guard lock(mutex_);
        how = how_;
      }
      if (!(cut && how == Cut::before_forwarding) &&
          !send_all(pair.server, chunk.data(), chunk.size())) {
        closed[i] = true;
        continue;
      }
      if (!cut) continue;
      if (how == Cut::after_server_answers) {
        // The server has the message; its first answer shows it acted on it (for a
        // COMMIT: the transaction is saved). The answer is dropped, never forwarded.
        pollfd answer{pair.server, POLLIN, 0};
        if (::poll(&answer, 1, kAnswerWaitMs) > 0)
          (void)receive(pair.server, buffer.data(), buffer.size());
      }
      closed[i] = true;
      {
        std::lock_guard lock(mutex_);
        cut_done_ = true;
      }
      cut_cv_.notify_all();
    }
    for (std::size_t i = pairs.size(); i-- > 0;) {
      if (!closed[i]) continue;
      close_fd(pairs[i].client);
      close_fd(pairs[i].server);
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  for (auto& pair : pairs) {
    close_fd(pair.client);
    close_fd(pair.server);
  }
}

}  // namespace imgbatch::test_support
