// SilentServer: a TCP server on loopback that accepts connections and never says a word —
// a gateway or origin that has hung. Connections stay open until the server is destroyed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace imgbatch::test_support {

class SilentServer {
 public:
  SilentServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("SilentServer: cannot listen on loopback");
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_all(); });
  }

  ~SilentServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes the blocked accept()
    acceptor_.join();
    ::close(listen_fd_);
    for (const int fd : accepted_) ::close(fd);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Closes the connections accepted so far, as a server that gave up would: their clients
  // see the connection end without an answer. New ones are accepted and kept as before.
  void close_all() {
    const std::lock_guard lock(mutex_);
    for (const int fd : accepted_) ::close(fd);
    accepted_.clear();
  }
  int connections() const { return connections_.load(); }

 private:
  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      const std::lock_guard lock(mutex_);
      accepted_.push_back(fd);
      ++connections_;
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> accepted_;
  std::atomic<int> connections_{0};
};

}  // namespace imgbatch::test_support
