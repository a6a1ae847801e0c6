// The PostgreSQL WorkWatch: a connection of its own that LISTENs on kWorkChannel, and a
// thread that waits on its socket and calls back once per batch of notifications. When
// the connection breaks (a server restart) the thread reconnects and LISTENs again,
// waiting 0.1 s, then twice as long each time up to 5 s, between attempts. Destruction
// wakes the thread through an eventfd, so it returns at once even in the middle of
// connecting.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "postgres/conninfo.hpp"
#include "store/store.hpp"

using PGconn = struct pg_conn;

namespace imgbatch::store::postgres {

// The channel that the backend NOTIFYs in the transactions that make tasks claimable.
inline constexpr std::string_view kWorkChannel = "imgbatch_work";

class ListenWatch final : public WorkWatch {
 public:
  // Tries the first connection before returning, so that work stored after this returns
  // is seen; if the server is unreachable now, the thread keeps trying.
  ListenWatch(std::string uri, SessionSettings settings, std::function<void()> on_new_work);
  ~ListenWatch() override;
  ListenWatch(const ListenWatch&) = delete;
  ListenWatch& operator=(const ListenWatch&) = delete;

  // True while the LISTEN connection is up (tests wait for a reconnection with it).
  bool listening() const;

 private:
  enum class Wait { ready, stopped, timed_out };

  void run();
  bool connect_and_listen();
  // Sends `sql` and reads its results; false when it failed or the watch is stopping.
  bool send_and_wait(const char* sql);
  void disconnect();
  // Waits for `events` on `fd`, the stop signal, or `timeout_ms`.
  Wait wait_for(int fd, short events, int timeout_ms) const;
  void notify_callback();

  std::string uri_;
  SessionSettings settings_;
  std::function<void()> on_new_work_;
  std::atomic<bool> stop_{false};
  int stop_fd_ = -1;        // eventfd, readable once the destructor has run
  PGconn* conn_ = nullptr;  // owned by the thread once it runs
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

}  // namespace imgbatch::store::postgres
