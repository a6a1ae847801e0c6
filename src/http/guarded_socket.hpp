// GuardedSocket: the stream socket RESTinio's connections use (Traits::stream_socket_t), a
// TCP socket that watches each request's head go by (RequestScanner) and acts where
// RESTinio 0.6 cannot, between the head and the body:
//   - "Expect: 100-continue" within the limit: writes "100 Continue", then lets the body in;
//   - a body over --max-upload-bytes (Content-Length, or counted chunks) or an unknown
//     expectation: writes a 413 (417) problem+json with "Connection: close" itself, shuts
//     down its sending side and discards what the client still sends for a bounded time
//     (a lingering close), so the client reads the answer instead of a reset; RESTinio never
//     sees that request and closes the connection after.
// Its own writes wait until RESTinio's response being written (a pipelined request's) is
// complete, and RESTinio's writes wait for its own, so the two never interleave.
//
// The limit comes from the io_context's GuardSettings service (RESTinio constructs sockets
// from the io_context alone); without one the socket only passes bytes through.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <restinio/asio_include.hpp>
#include <restinio/tls_fwd.hpp>

#include "request_scanner.hpp"

namespace imgbatch::http {

namespace asio = restinio::asio_ns;

struct GuardLimits {
  std::uint64_t max_body = 0;
  // How long a refused client may go on sending before the connection is closed anyway.
  std::chrono::milliseconds linger{5000};
  // Told of each refusal (status 413 or 417), e.g. to count it; may run on any I/O thread.
  std::function<void(int status)> on_refused;
};

// Per-io_context settings of the GuardedSockets made on it.
class GuardSettings final : public asio::execution_context::service {
 public:
  using key_type = GuardSettings;
  static asio::execution_context::id id;

  explicit GuardSettings(asio::execution_context& context)
      : asio::execution_context::service(context) {}
  const GuardLimits& limits() const { return limits_; }
  void set_limits(const GuardLimits& limits) { limits_ = limits; }

 private:
  void shutdown() override {}
  GuardLimits limits_;
};

namespace guard_detail {

using ReadDone = std::function<void(const asio::error_code&, std::size_t)>;

// What one connection's handlers share; they hold it by shared_ptr, so it outlives moves
// of the GuardedSocket and the operations still running when RESTinio lets go of it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(const asio::any_io_executor& executor, std::optional<GuardLimits> limits);

  asio::ip::tcp::socket socket;
  std::optional<GuardLimits> limits;  // none: bytes only pass through

  void start_read(asio::mutable_buffer buffer, asio::any_io_executor executor, ReadDone done);
  // Around each write RESTinio starts; `start` runs now, or after our own write finishes.
  void before_write(std::function<void()> start);
  void after_write();
  void cancel();

 private:
  void pump();
  void finish_read(const asio::error_code& ec, std::size_t n);
  void write_own(std::string bytes, std::function<void(const asio::error_code&)> then);
  void refuse(int status, const std::string& detail);
  void drain();

  RequestScanner scanner_;
  std::vector<char> raw_;  // read from the socket, not yet scanned
  std::size_t raw_begin_ = 0, raw_end_ = 0;
  std::string ready_;  // scanned, for RESTinio
  std::size_t ready_pos_ = 0;
  RequestScanner::Step pending_;  // an event still to act on
  bool refused_ = false;          // the refusal is written and the lingering close over

  asio::mutable_buffer read_buffer_;
  asio::any_io_executor read_executor_;
  ReadDone read_done_;
  bool initiating_ = false;  // inside start_read: completions must be posted

  int writes_running_ = 0;  // RESTinio's
  bool own_write_running_ = false;
  std::function<void()> when_writes_idle_;             // our write, waiting for RESTinio's
  std::vector<std::function<void()>> writes_waiting_;  // RESTinio's, waiting for ours
  std::string own_bytes_;
  asio::steady_timer linger_timer_;
};

}  // namespace guard_detail

class GuardedSocket {
 public:
  using executor_type = asio::any_io_executor;
  using lowest_layer_type = asio::ip::tcp::socket;

  explicit GuardedSocket(asio::io_context& io);
  // Not noexcept: the moved-from socket gets a fresh connection (RESTinio's acceptor
  // accepts into it again), which allocates.
  GuardedSocket(GuardedSocket&& other);             // NOLINT(performance-noexcept-move-constructor)
  GuardedSocket& operator=(GuardedSocket&& other);  // NOLINT(performance-noexcept-move-constructor)

  asio::ip::tcp::socket& lowest_layer() { return c_->socket; }
  const asio::ip::tcp::socket& lowest_layer() const { return c_->socket; }
  asio::any_io_executor get_executor() { return c_->socket.get_executor(); }
  bool is_open() const { return c_->socket.is_open(); }
  void cancel(asio::error_code& ec) {
    c_->cancel();
    c_->socket.cancel(ec);
  }
  void shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec) {
    c_->socket.shutdown(what, ec);
  }
  void close() {
    c_->cancel();
    c_->socket.close();
  }
  // For RESTinio's sendfile.
  auto native_handle() { return c_->socket.native_handle(); }
  bool native_non_blocking() const { return c_->socket.native_non_blocking(); }
  void native_non_blocking(bool mode, asio::error_code& ec) {
    c_->socket.native_non_blocking(mode, ec);
  }

  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    auto executor = asio::get_associated_executor(handler, c_->socket.get_executor());
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    c_->start_read(first_buffer(buffers), executor,
                   [shared](const asio::error_code& ec, std::size_t n) { (*shared)(ec, n); });
  }

  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    auto executor = asio::get_associated_executor(handler, c_->socket.get_executor());
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    c_->before_write([c = c_, buffers, executor, shared] {
      c->socket.async_write_some(
          buffers,
          asio::bind_executor(executor, [c, shared](const asio::error_code& ec, std::size_t n) {
            (*shared)(ec, n);  // may start the next write of the same response
            c->after_write();
          }));
    });
  }

  // RESTinio's sendfile waits for writability between its writes: counted as a write.
  template <typename Handler>
  void async_wait(asio::socket_base::wait_type what, Handler&& handler) {
    auto executor = asio::get_associated_executor(handler, c_->socket.get_executor());
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    c_->before_write([c = c_, what, executor, shared] {
      c->socket.async_wait(what,
                           asio::bind_executor(executor, [c, shared](const asio::error_code& ec) {
                             (*shared)(ec);
                             c->after_write();
                           }));
    });
  }

 private:
  template <typename MutableBuffers>
  static asio::mutable_buffer first_buffer(const MutableBuffers& buffers) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      if (asio::mutable_buffer(*it).size() > 0) return *it;
    }
    return asio::mutable_buffer();
  }

  std::shared_ptr<guard_detail::Connection> c_;
};

// RESTinio's hooks for its own socket types, found by argument-dependent lookup.
template <typename Connection, typename StartRead, typename Failed>
void prepare_connection_and_start_read(GuardedSocket&, Connection&, StartRead start_read, Failed) {
  start_read();
}
inline restinio::impl::tls_socket_t* make_tls_socket_pointer_for_state_listener(
    GuardedSocket&) noexcept {
  return nullptr;
}

}  // namespace imgbatch::http
