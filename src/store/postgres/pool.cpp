#include "postgres/pool.hpp"

#include "postgres/conninfo.hpp"

namespace imgbatch::store::postgres {

ConnectionPool::ConnectionPool(std::string uri, SessionSettings settings, std::size_t size)
    : uri_(std::move(uri)), settings_(settings), size_(size) {}

ConnectionPool::~ConnectionPool() = default;

std::unique_ptr<Connection> ConnectionPool::open() {
  return std::make_unique<Connection>(connect_blocking(uri_, settings_), uri_);
}

ConnectionPool::Lease ConnectionPool::borrow() {
  std::unique_ptr<Connection> connection;
  {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // this slot is ours while we connect, outside the lock
    }
  }
  // An idle connection may have lost its server meanwhile (a restart): replace it now,
  // before anything is sent on it, rather than fail the call.
  if (!connection || !connection->usable()) {
    connection.reset();
    try {
      connection = open();
    } catch (...) {
      give_back(nullptr);  // frees the slot counted above
      throw;
    }
  }
  return Lease(*this, std::move(connection));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  const bool keep = connection && connection->usable();
  {
    std::lock_guard lock(mutex_);
    if (keep)
      idle_.push_back(std::move(connection));
    else
      --open_;
  }
  returned_.notify_one();
  // A connection not kept is closed here, outside the lock (PQfinish says goodbye).
}

}  // namespace imgbatch::store::postgres
