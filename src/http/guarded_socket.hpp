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

// One read RESTinio started: where its bytes go, and its completion handler. Only the
// asio operations that carry the read along hold it (in their handlers), never the
// Connection: RESTinio's handler holds RESTinio's connection, which owns the GuardedSocket,
// which holds the Connection, so a Connection keeping it would be a cycle. Carried by the
// pending operations, it is released as with a plain socket: when the last of them
// completes, or when the io_context destroys the operations it still has (a server stopped
// with a read parked).
struct PendingRead {
  asio::mutable_buffer buffer;
  asio::any_io_executor executor;  // RESTinio's (its connection's strand)
  ReadDone done;
};
using PendingReadPtr = std::shared_ptr<PendingRead>;

// What one connection's operations share. It holds no handler of anyone's, only state and
// I/O objects; the operations hold it (shared_from_this), so it outlives moves of the
// GuardedSocket and the operations still running when RESTinio lets go of it. Waiting for
// the other side's write is an async_wait on a timer that never expires, woken by cancel():
// the waiting handler stays inside asio, not in here.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(const asio::any_io_executor& executor, std::optional<GuardLimits> limits);

  asio::ip::tcp::socket socket;
  std::optional<GuardLimits> limits;  // none: bytes only pass through

  void start_read(asio::mutable_buffer buffer, asio::any_io_executor executor, ReadDone done);

  // RESTinio's writes. Each counts as running from begin_write() to end_write(), so that our
  // own write waits for it; `start` runs once our own write is not running, with
  // operation_aborted instead should cancel() come first.
  void begin_write() { ++writes_running_; }
  template <typename Start>
  void when_own_write_idle(const asio::any_io_executor& executor, Start start);
  void end_write();

  // Aborts the waits parked here (RESTinio's cancel and close): they complete with
  // operation_aborted, as the socket's own operations do.
  void cancel();
  // cancel(), then closes the socket; for destructors, so it throws nothing.
  void close() noexcept;

 private:
  void pump(const PendingReadPtr& read, bool initiating);
  static void finish_read(const PendingReadPtr& read, const asio::error_code& ec, std::size_t n,
                          bool initiating);
  template <typename Then>
  void write_own(std::string bytes, const asio::any_io_executor& executor, Then then);
  void refuse(const PendingReadPtr& read, int status, const std::string& detail);
  void drain(const PendingReadPtr& read);

  RequestScanner scanner_;
  std::vector<char> raw_;  // read from the socket, not yet scanned
  std::size_t raw_begin_ = 0, raw_end_ = 0;
  std::string ready_;  // scanned, for RESTinio
  std::size_t ready_pos_ = 0;
  RequestScanner::Step pending_;  // an event still to act on
  bool refused_ = false;          // the refusal is written and the lingering close over

  std::uint64_t cancels_ = 0;  // cancel() calls so far: a woken wait tells cancel from wake-up
  int writes_running_ = 0;     // RESTinio's
  bool own_write_running_ = false;
  std::string own_bytes_;
  asio::steady_timer writes_idle_;     // woken when RESTinio's writes are all done
  asio::steady_timer own_write_done_;  // woken when our own write is done
  asio::steady_timer linger_timer_;
};

template <typename Start>
void Connection::when_own_write_idle(const asio::any_io_executor& executor, Start start) {
  if (!own_write_running_) {
    start(asio::error_code{});
    return;
  }
  own_write_done_.async_wait(
      asio::bind_executor(executor, [self = shared_from_this(), executor, start = std::move(start),
                                     cancels = cancels_](const asio::error_code&) mutable {
        if (self->cancels_ != cancels) {
          start(asio::error_code(asio::error::operation_aborted));
          return;
        }
        self->when_own_write_idle(executor, std::move(start));
      }));
}

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
  GuardedSocket(const GuardedSocket&) = delete;
  GuardedSocket& operator=(const GuardedSocket&) = delete;
  // Closes, as a plain socket's destructor does: what still runs on the connection (a
  // lingering close) ends now instead of keeping it.
  ~GuardedSocket();

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
    if (!c_->limits) {  // not guarded: straight to the socket
      c_->socket.async_read_some(buffers, std::forward<Handler>(handler));
      return;
    }
    auto executor = asio::get_associated_executor(handler, c_->socket.get_executor());
    // Shared, so that a handler that can only be moved fits in a std::function.
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    c_->start_read(first_buffer(buffers), executor,
                   [shared](const asio::error_code& ec, std::size_t n) { (*shared)(ec, n); });
  }

  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    auto executor = asio::get_associated_executor(handler, c_->socket.get_executor());
    c_->begin_write();
    c_->when_own_write_idle(
        executor, [c = c_, buffers, executor,
                   handler = std::forward<Handler>(handler)](const asio::error_code& ec) mutable {
          if (ec) {
            handler(ec, std::size_t{0});
            c->end_write();
            return;
          }
          c->socket.async_write_some(
              buffers, asio::bind_executor(
                           executor, [c, handler = std::move(handler)](
                                         const asio::error_code& write_ec, std::size_t n) mutable {
                             handler(write_ec, n);  // may start the next write of the same response
                             c->end_write();
                           }));
        });
  }

  // RESTinio's sendfile waits for writability between its writes: counted as a write.
  template <typename Handler>
  void async_wait(asio::socket_base::wait_type what, Handler&& handler) {
    auto executor = asio::get_associated_executor(handler, c_->socket.get_executor());
    c_->begin_write();
    c_->when_own_write_idle(
        executor, [c = c_, what, executor,
                   handler = std::forward<Handler>(handler)](const asio::error_code& ec) mutable {
          if (ec) {
            handler(ec);
            c->end_write();
            return;
          }
          c->socket.async_wait(
              what, asio::bind_executor(executor, [c, handler = std::move(handler)](
                                                      const asio::error_code& wait_ec) mutable {
                handler(wait_ec);
                c->end_write();
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
