#include "guarded_socket.hpp"

#include <algorithm>
#include <cstring>

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
    : socket(executor), limits(l), scanner_(l ? l->max_body : 0), linger_timer_(executor) {}

void Connection::start_read(asio::mutable_buffer buffer, asio::any_io_executor executor,
                            ReadDone done) {
  read_buffer_ = buffer;
  read_executor_ = std::move(executor);
  read_done_ = std::move(done);
  if (!limits) {  // not guarded: straight to the socket
    socket.async_read_some(
        buffer, asio::bind_executor(read_executor_, [self = shared_from_this()](
                                                        const asio::error_code& ec, std::size_t n) {
          self->finish_read(ec, n);
        }));
    return;
  }
  initiating_ = true;
  pump();
  initiating_ = false;
}

void Connection::finish_read(const asio::error_code& ec, std::size_t n) {
  if (!read_done_) return;
  auto done = std::move(read_done_);
  read_done_ = nullptr;
  if (initiating_)  // an operation must not complete inside its initiating call
    asio::post(read_executor_, [done = std::move(done), ec, n] { done(ec, n); });
  else
    done(ec, n);
}

// Moves bytes towards RESTinio's pending read, acting on the scanner's events in order.
void Connection::pump() {
  for (;;) {
    if (ready_pos_ < ready_.size()) {
      const auto n = std::min(read_buffer_.size(), ready_.size() - ready_pos_);
      std::memcpy(read_buffer_.data(), ready_.data() + ready_pos_, n);
      ready_pos_ += n;
      if (ready_pos_ == ready_.size()) {
        ready_.clear();
        ready_pos_ = 0;
      }
      finish_read({}, n);
      return;
    }
    if (refused_) {
      finish_read(asio::error::eof, 0);
      return;
    }
    if (pending_.event == RequestScanner::Event::kContinue) {
      // RESTinio has the head and wants the body: the client may send it now.
      pending_ = {};
      write_own("HTTP/1.1 100 Continue\r\n\r\n",
                [self = shared_from_this()](const asio::error_code& ec) {
                  if (ec)
                    self->finish_read(ec, 0);
                  else
                    self->pump();
                });
      return;
    }
    if (pending_.event == RequestScanner::Event::kRefuse) {
      const auto step = std::exchange(pending_, {});
      refuse(step.status, step.detail);
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
        asio::bind_executor(read_executor_,
                            [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                              if (ec) {
                                self->finish_read(ec, 0);
                                return;
                              }
                              self->raw_begin_ = 0;
                              self->raw_end_ = n;
                              self->pump();
                            }));
    return;
  }
}

void Connection::write_own(std::string bytes, std::function<void(const asio::error_code&)> then) {
  if (writes_running_ > 0) {  // a response is being written: ours goes after it
    when_writes_idle_ = [this, bytes = std::move(bytes), then = std::move(then)]() mutable {
      write_own(std::move(bytes), std::move(then));
    };
    return;
  }
  own_write_running_ = true;
  own_bytes_ = std::move(bytes);
  asio::async_write(
      socket, asio::buffer(own_bytes_),
      asio::bind_executor(read_executor_, [self = shared_from_this(), then = std::move(then)](
                                              const asio::error_code& ec, std::size_t) {
        self->own_write_running_ = false;
        for (auto& start : std::exchange(self->writes_waiting_, {})) start();
        then(ec);
      }));
}

void Connection::before_write(std::function<void()> start) {
  ++writes_running_;
  if (own_write_running_)
    writes_waiting_.push_back(std::move(start));
  else
    start();
}

void Connection::after_write() {
  --writes_running_;
  if (writes_running_ == 0 && when_writes_idle_) std::exchange(when_writes_idle_, nullptr)();
}

void Connection::refuse(int status, const std::string& detail) {
  spdlog::info("refused a request before its body: {} {}", status, detail);
  if (limits->on_refused) limits->on_refused(status);
  write_own(refusal(status, detail), [self = shared_from_this()](const asio::error_code& ec) {
    if (ec) {
      self->finish_read(ec, 0);
      return;
    }
    // Lingering close: the client learns we are done (FIN) but may still be sending; what
    // it sends is read and dropped, so that its kernel does not get a reset that would
    // destroy our answer before the client reads it.
    asio::error_code ignored;
    self->socket.shutdown(asio::socket_base::shutdown_send, ignored);
    self->linger_timer_.expires_after(self->limits->linger);
    self->linger_timer_.async_wait(
        asio::bind_executor(self->read_executor_, [self](const asio::error_code& timer_ec) {
          asio::error_code ignored_cancel;
          if (!timer_ec) self->socket.cancel(ignored_cancel);
        }));
    self->drain();
  });
}

void Connection::drain() {
  raw_.resize(kReadChunk);
  socket.async_read_some(
      asio::buffer(raw_),
      asio::bind_executor(read_executor_,
                          [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                            if (!ec) {
                              self->drain();
                              return;
                            }
                            self->linger_timer_.cancel();
                            self->refused_ = true;
                            // RESTinio has seen nothing of this request: an end of input makes it
                            // close quietly.
                            self->finish_read(asio::error::eof, 0);
                          }));
}

void Connection::cancel() { linger_timer_.cancel(); }

}  // namespace guard_detail

GuardedSocket::GuardedSocket(asio::io_context& io)
    : c_(std::make_shared<guard_detail::Connection>(io.get_executor(),
                                                    guard_detail::limits_of(io))) {}

// The acceptor accepts into a moved-from socket again, so it must stay usable.
// NOLINTNEXTLINE(performance-noexcept-move-constructor): see the header.
GuardedSocket::GuardedSocket(GuardedSocket&& other) : c_(std::move(other.c_)) {
  other.c_ = std::make_shared<guard_detail::Connection>(c_->socket.get_executor(), c_->limits);
}

// NOLINTNEXTLINE(performance-noexcept-move-constructor): see the header.
GuardedSocket& GuardedSocket::operator=(GuardedSocket&& other) {
  if (this != &other) {
    c_ = std::move(other.c_);
    other.c_ = std::make_shared<guard_detail::Connection>(c_->socket.get_executor(), c_->limits);
  }
  return *this;
}

}  // namespace imgbatch::http
