// A connection of its own that a thread keeps open for as long as this object lives, for
// what only a long-lived session can do: LISTEN (ListenWatch), or hold a session-level
// advisory lock (ProcessPresence). The thread connects, runs `on_connect` on each new
// connection, then waits on the socket: notifications go to `on_notify`, a quiet
// connection is probed now and then (a server that vanished without closing sends
// nothing), and a broken one is replaced, waiting 0.1 s, then twice as long each time up
// to 5 s, between attempts. Destruction wakes the thread through an eventfd, so it
// returns at once even in the middle of connecting; `on_close` gets a short moment on a
// connection that is still up.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "postgres/conninfo.hpp"

using PGconn = struct pg_conn;

namespace imgbatch::store::postgres {

class KeptConnection {
 public:
  struct Hooks {
    // Runs on every new connection, on the thread that made it; `after_gap` is false only
    // for the first attempt, made by the constructor. Returning false drops the connection
    // and tries again later.
    std::function<bool(KeptConnection&, bool after_gap)> on_connect;
    // Once per batch of notifications received.
    std::function<void()> on_notify;
    // At destruction, while the connection is up.
    std::function<void(KeptConnection&)> on_close;
  };

  // Tries the first connection before returning; if the server is unreachable now, the
  // thread keeps trying.
  KeptConnection(std::string uri, SessionSettings settings, Hooks hooks);
  ~KeptConnection();
  KeptConnection(const KeptConnection&) = delete;
  KeptConnection& operator=(const KeptConnection&) = delete;

  // True while a connection is up and `on_connect` succeeded on it.
  bool connected() const { return connected_; }

  // For the hooks: runs `sql` with text parameters and waits for its results, giving up
  // when the answer is slow, the connection breaks or (unless `at_close`) the object is
  // being destroyed. True when every result came back without an error.
  bool run(const char* sql, const std::vector<std::string>& params = {}, bool at_close = false);

 private:
  enum class Wait { ready, stopped, timed_out };

  void loop();
  bool connect(bool after_gap);
  void disconnect();
  // Waits for `events` on `fd`, the stop signal (unless `ignore_stop`), or `timeout_ms`.
  Wait wait_for(int fd, short events, int timeout_ms, bool ignore_stop = false) const;

  std::string uri_;
  SessionSettings settings_;
  Hooks hooks_;
  std::atomic<bool> stop_{false};
  int stop_fd_ = -1;        // eventfd, readable once the destructor has begun
  PGconn* conn_ = nullptr;  // owned by the thread once it runs
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace imgbatch::store::postgres
