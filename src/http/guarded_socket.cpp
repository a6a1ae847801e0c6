#include "guarded_socket.hpp"

#include <algorithm>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "problem.hpp"
#include "reply.hpp"

namespace imgbatch::http {

asio::execution_context::id GuardSettings::id;

namespace guard_detail {

namespace {

constexpr std::size_t kReadChunk = std::size_t{64} * 1024;

std::optional<GuardLimits> limits_of(asio::io_context& io) {
  if (!asio::has_service<GuardSettings>(io)) return std::nullopt;
  return asio::use_service<GuardSettings>(io).limits();
}

// A whole HTTP/1.1 response that closes the connection: the problem+json of `status`.
std::string refusal(int status, const std::string& detail) {
  const Reply reply = problem(status, detail);
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += reason_phrase(status);
  out += "\r\n";
  for (const auto& [name, value] : reply.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n";
  return out + reply.body;
}

}  // namespace

Connection::Connection(const asio::any_io_executor& executor, std::optional<GuardLimits> l)
    : socket(executor),
      limits(std::move(l)),
      scanner_(limits ? limits->max_body : 0),
      writes_idle_(executor, asio::steady_timer::time_point::max()),
      own_write_done_(executor, asio::steady_timer::time_point::max()),
      linger_timer_(executor) {}

void Connection::start_read(asio::mutable_buffer buffer, asio::any_io_executor executor,
                            ReadDone done) {
  pump(std::make_shared<PendingRead>(PendingRead{buffer, std::move(executor), std::move(done)}),
       /*initiating=*/true);
}

void Connection::finish_read(const PendingReadPtr& read, const asio::error_code& ec, std::size_t n,
                             bool initiating) {
  if (initiating)  // an operation must not complete inside its initiating call
    asio::post(read->executor, [read, ec, n] { read->done(ec, n); });
  else
    read->done(ec, n);
}

// Moves bytes towards RESTinio's pending read, acting on the scanner's events in order.
// Every path ends either in finish_read or in an asio operation whose handler carries
// `read` on: RESTinio's handler is never left anywhere else.
void Connection::pump(const PendingReadPtr& read, bool initiating) {
  for (;;) {
    if (ready_pos_ < ready_.size()) {
      const auto n = std::min(read->buffer.size(), ready_.size() - ready_pos_);
      std::memcpy(read->buffer.data(), ready_.data() + ready_pos_, n);
      ready_pos_ += n;
      if (ready_pos_ == ready_.size()) {
        ready_.clear();
        ready_pos_ = 0;
      }
      finish_read(read, {}, n, initiating);
      return;
    }
    if (refused_) {
      finish_read(read, asio::error::eof, 0, initiating);
      return;
    }
    if (pending_.event == RequestScanner::Event::kContinue) {
      // RESTinio has the head and wants the body: the client may send it now.
      pending_ = {};
      write_own("HTTP/1.1 100 Continue\r\n\r\n", read->executor,
                [self = shared_from_this(), read](const asio::error_code& ec) {
                  if (ec)
                    finish_read(read, ec, 0, false);
                  else
                    self->pump(read, false);
                });
      return;
    }
    if (pending_.event == RequestScanner::Event::kRefuse) {
      const auto step = std::exchange(pending_, {});
      refuse(read, step.status, step.detail);
      return;
    }
    if (raw_begin_ < raw_end_) {
      pending_ =
          scanner_.feed(std::string_view(raw_.data() + raw_begin_, raw_end_ - raw_begin_), ready_);
      raw_begin_ += pending_.used;
      continue;
    }
    raw_.resize(kReadChunk);
    socket.async_read_some(
        asio::buffer(raw_),
        asio::bind_executor(read->executor, [self = shared_from_this(), read](
                                                const asio::error_code& ec, std::size_t n) {
          if (ec) {
            finish_read(read, ec, 0, false);
            return;
          }
          self->raw_begin_ = 0;
          self->raw_end_ = n;
          self->pump(read, false);
        }));
    return;
  }
}

// Writes `bytes` once RESTinio's writes are all done, then calls then(ec).
template <typename Then>
void Connection::write_own(std::string bytes, const asio::any_io_executor& executor, Then then) {
  if (writes_running_ > 0) {  // a response is being written: ours goes after it
    writes_idle_.async_wait(asio::bind_executor(
        executor, [self = shared_from_this(), bytes = std::move(bytes), executor,
                   then = std::move(then), cancels = cancels_](const asio::error_code&) mutable {
          if (self->cancels_ != cancels) {
            then(asio::error_code(asio::error::operation_aborted));
            return;
          }
          self->write_own(std::move(bytes), executor, std::move(then));
        }));
    return;
  }
  own_write_running_ = true;
  own_bytes_ = std::move(bytes);
  asio::async_write(
      socket, asio::buffer(own_bytes_),
      asio::bind_executor(executor, [self = shared_from_this(), then = std::move(then)](
                                        const asio::error_code& ec, std::size_t) mutable {
        self->own_write_running_ = false;
        self->own_write_done_.cancel();  // wakes RESTinio's writes waiting for ours
        then(ec);
      }));
}

void Connection::end_write() {
  if (--writes_running_ == 0) writes_idle_.cancel();  // wakes our own write, if it waits
}

void Connection::refuse(const PendingReadPtr& read, int status, const std::string& detail) {
  spdlog::info("refused a request before its body: {} {}", status, detail);
  if (limits->on_refused) limits->on_refused(status);
  write_own(refusal(status, detail), read->executor,
            [self = shared_from_this(), read](const asio::error_code& ec) {
              if (ec) {
                finish_read(read, ec, 0, false);
                return;
              }
              // Lingering close: the client learns we are done (FIN) but may still be
              // sending; what it sends is read and dropped, so that its kernel does not get
              // a reset that would destroy our answer before the client reads it.
              asio::error_code ignored;
              self->socket.shutdown(asio::socket_base::shutdown_send, ignored);
              self->linger_timer_.expires_after(self->limits->linger);
              self->linger_timer_.async_wait(
                  asio::bind_executor(read->executor, [self](const asio::error_code& timer_ec) {
                    asio::error_code ignored_cancel;
                    if (!timer_ec) self->socket.cancel(ignored_cancel);
                  }));
              self->drain(read);
            });
}

void Connection::drain(const PendingReadPtr& read) {
  raw_.resize(kReadChunk);
  socket.async_read_some(
      asio::buffer(raw_),
      asio::bind_executor(read->executor, [self = shared_from_this(), read](
                                              const asio::error_code& ec, std::size_t) {
        if (!ec) {
          self->drain(read);
          return;
        }
        self->linger_timer_.cancel();
        self->refused_ = true;
        // RESTinio has seen nothing of this request: an end of input makes it close quietly.
        finish_read(read, asio::error::eof, 0, false);
      }));
}

void Connection::cancel() {
  ++cancels_;
  writes_idle_.cancel();
  own_write_done_.cancel();
  linger_timer_.cancel();
}

void Connection::close() noexcept {
  try {
    cancel();
  } catch (const std::exception&) {
    // asio's timer cancel() throws only if the reactor's system call fails; the waits then
    // end with the io_context, and closing the socket below is what matters here.
  }
  asio::error_code ignored;
  socket.close(ignored);
}

}  // namespace guard_detail

GuardedSocket::GuardedSocket(asio::io_context& io)
    : c_(std::make_shared<guard_detail::Connection>(io.get_executor(),
                                                    guard_detail::limits_of(io))) {}

GuardedSocket::~GuardedSocket() { c_->close(); }

// The acceptor accepts into a moved-from socket again, so it must stay usable.
// NOLINTNEXTLINE(performance-noexcept-move-constructor): see the header.
GuardedSocket::GuardedSocket(GuardedSocket&& other) : c_(std::move(other.c_)) {
  other.c_ = std::make_shared<guard_detail::Connection>(c_->socket.get_executor(), c_->limits);
}

// NOLINTNEXTLINE(performance-noexcept-move-constructor): see the header.
GuardedSocket& GuardedSocket::operator=(GuardedSocket&& other) {
  if (this != &other) {
    c_->close();
    c_ = std::move(other.c_);
    other.c_ = std::make_shared<guard_detail::Connection>(c_->socket.get_executor(), c_->limits);
  }
  return *this;
}

}  // namespace imgbatch::http
