// A small, fixed-size pool of connections to one database. Connections are opened on
// first need, each lent to one call at a time; a call that finds them all lent waits for
// one. A connection that broke, or that was left inside a transaction, is closed instead
// of being returned, and the next borrower opens a fresh one: that is how the Store gets
// going again after the server restarts.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/lease.hpp"
#include "postgres/connection.hpp"
#include "postgres/conninfo.hpp"

namespace imgbatch::store::postgres {

class ConnectionPool {
 public:
  ConnectionPool(std::string uri, SessionSettings settings, std::size_t size);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  using Lease = common::Lease<ConnectionPool, Connection>;

  // A usable connection; opens one if needed. Throws StoreError when it cannot connect.
  Lease borrow();

 private:
  friend Lease;
  void give_back(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> open();

  std::string uri_;
  SessionSettings settings_;
  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // idle + lent + being opened
};

}  // namespace imgbatch::store::postgres
