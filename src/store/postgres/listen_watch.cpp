#include "postgres/listen_watch.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "postgres/conninfo.hpp"

namespace imgbatch::store::postgres {

namespace {

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 5000;
// Each step of connecting, and each answer, may take this long before the attempt counts
// as failed: the same bound as the pool's connect_timeout.
constexpr int kAnswerTimeoutMs = 10'000;
// A server that vanished without closing the connection sends nothing, not even an end of
// file; after this long without a notification the watch asks the server a question.
constexpr int kIdleProbeMs = 30'000;

}  // namespace

ListenWatch::ListenWatch(std::string uri, SessionSettings settings,
                         std::function<void()> on_new_work)
    : uri_(std::move(uri)), settings_(settings), on_new_work_(std::move(on_new_work)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0)
    throw StoreError(std::string("postgresql: cannot create an eventfd: ") +
                     std::generic_category().message(errno));
  try {
    connect_and_listen();
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    disconnect();
    close(stop_fd_);
    throw;
  }
}

ListenWatch::~ListenWatch() {
  stop_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
  thread_.join();
  disconnect();
  close(stop_fd_);
}

bool ListenWatch::listening() const { return listening_; }

ListenWatch::Wait ListenWatch::wait_for(int fd, short events, int timeout_ms) const {
  if (stop_) return Wait::stopped;
  pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, events, 0}};
  int rc;
  do {
    rc = poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (stop_ || fds[0].revents) return Wait::stopped;
  if (rc == 0) return Wait::timed_out;
  return Wait::ready;  // readable, or an error or hang-up that the next libpq call reports
}

bool ListenWatch::send_and_wait(const char* sql) {
  if (!PQsendQuery(conn_, sql)) return false;
  while (PQisBusy(conn_)) {
    if (wait_for(PQsocket(conn_), POLLIN, kAnswerTimeoutMs) != Wait::ready) return false;
    if (!PQconsumeInput(conn_)) return false;
  }
  bool ok = true;
  while (PGresult* result = PQgetResult(conn_)) {
    const auto status = PQresultStatus(result);
    ok = ok && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK);
    PQclear(result);
  }
  return ok && PQstatus(conn_) == CONNECTION_OK;
}

bool ListenWatch::connect_and_listen() {
  conn_ = start_connection(uri_, settings_);
  // Driven by hand rather than by PQconnectdb so that the destructor can interrupt it.
  PostgresPollingStatusType status =
      PQstatus(conn_) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED ||
        wait_for(PQsocket(conn_), status == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                 kAnswerTimeoutMs) != Wait::ready) {
      disconnect();
      return false;
    }
    status = PQconnectPoll(conn_);
  }
  const std::string listen = "LISTEN " + std::string(kWorkChannel);
  if (!send_and_wait(listen.c_str())) {
    disconnect();
    return false;
  }
  listening_ = true;
  return true;
}

void ListenWatch::disconnect() {
  listening_ = false;
  PQfinish(conn_);
  conn_ = nullptr;
}

void ListenWatch::notify_callback() {
  try {
    on_new_work_();
  } catch (...) {
    // A hint that could not be delivered; the workers' own polling covers for it.
  }
}

void ListenWatch::run() {
  int backoff_ms = kFirstBackoffMs;
  bool missed = conn_ == nullptr;  // the constructor could not connect
  while (!stop_) {
    if (!conn_) {
      if (!connect_and_listen()) {
        if (wait_for(-1, 0, backoff_ms) == Wait::stopped) return;
        backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
        continue;
      }
      backoff_ms = kFirstBackoffMs;
      // Anything stored while we were away was announced to nobody.
      if (missed) notify_callback();
      missed = false;
    }
    bool alive = true;
    switch (wait_for(PQsocket(conn_), POLLIN, kIdleProbeMs)) {
      case Wait::stopped:
        return;
      case Wait::timed_out:
        alive = send_and_wait("SELECT 1");
        break;
      case Wait::ready:
        alive = PQconsumeInput(conn_) && PQstatus(conn_) == CONNECTION_OK;
        break;
    }
    // Notifications that arrived before a failure still count.
    bool any = false;
    while (PGnotify* notification = PQnotifies(conn_)) {
      any = true;
      PQfreemem(notification);
    }
    if (any) notify_callback();
    if (!alive && !stop_) {
      disconnect();
      missed = true;
    }
  }
}

}  // namespace imgbatch::store::postgres
