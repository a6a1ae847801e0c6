#include "postgres/kept_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "postgres/conninfo.hpp"
#include "store/store.hpp"

namespace imgbatch::store::postgres {

namespace {

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 5000;
// Each step of connecting, and each answer, may take this long before the attempt counts
// as failed: the same bound as the pool's connect_timeout.
constexpr int kAnswerTimeoutMs = 10'000;
// How long `on_close` may take: destruction must not wait long on a slow server.
constexpr int kCloseTimeoutMs = 5'000;
// After this long without a notification the connection asks the server a question, to
// find out whether it is still there.
constexpr int kIdleProbeMs = 30'000;

}  // namespace

KeptConnection::KeptConnection(std::string uri, SessionSettings settings, Hooks hooks)
    : uri_(std::move(uri)), settings_(settings), hooks_(std::move(hooks)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0)
    throw StoreError(std::string("postgresql: cannot create an eventfd: ") +
                     std::generic_category().message(errno));
  try {
    connect(/*after_gap=*/false);
    thread_ = std::thread([this] { loop(); });
  } catch (...) {
    disconnect();
    close(stop_fd_);
    throw;
  }
}

KeptConnection::~KeptConnection() {
  stop_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
  thread_.join();
  // A probe the stop interrupted may still be running: cancel it and read its end, so
  // that the connection can take `on_close`'s statement.
  if (conn_ && PQisBusy(conn_)) {
    if (PGcancel* cancel = PQgetCancel(conn_)) {
      char error[256];
      PQcancel(cancel, error, sizeof error);
      PQfreeCancel(cancel);
    }
    while (PQisBusy(conn_) &&
           wait_for(PQsocket(conn_), POLLIN, kCloseTimeoutMs, /*ignore_stop=*/true) ==
               Wait::ready &&
           PQconsumeInput(conn_))
      continue;
    while (PGresult* result = PQisBusy(conn_) ? nullptr : PQgetResult(conn_)) PQclear(result);
  }
  if (conn_ && connected_ && !PQisBusy(conn_) && hooks_.on_close) {
    try {
      hooks_.on_close(*this);
    } catch (...) {
      // Best effort: whatever it would have tidied, others tidy after the connection ends.
    }
  }
  disconnect();
  close(stop_fd_);
}

KeptConnection::Wait KeptConnection::wait_for(int fd, short events, int timeout_ms,
                                              bool ignore_stop) const {
  if (stop_ && !ignore_stop) return Wait::stopped;
  pollfd fds[2] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}};
  pollfd* first = fd >= 0 ? fds : fds + 1;
  const nfds_t count = (fd >= 0 ? 1 : 0) + (ignore_stop ? 0 : 1);
  int rc;
  do {
    rc = poll(first, count, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (!ignore_stop && (stop_ || fds[1].revents)) return Wait::stopped;
  if (rc == 0) return Wait::timed_out;
  return Wait::ready;  // readable, or an error or hang-up that the next libpq call reports
}

bool KeptConnection::run(const char* sql, const std::vector<std::string>& params, bool at_close) {
  if (!conn_) return false;
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  if (!PQsendQueryParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                         nullptr, nullptr, 0))
    return false;
  const int timeout_ms = at_close ? kCloseTimeoutMs : kAnswerTimeoutMs;
  while (PQisBusy(conn_)) {
    if (wait_for(PQsocket(conn_), POLLIN, timeout_ms, at_close) != Wait::ready) return false;
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

bool KeptConnection::connect(bool after_gap) {
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
  if (hooks_.on_connect && !hooks_.on_connect(*this, after_gap)) {
    disconnect();
    return false;
  }
  connected_ = true;
  return true;
}

void KeptConnection::disconnect() {
  connected_ = false;
  PQfinish(conn_);
  conn_ = nullptr;
}

void KeptConnection::loop() {
  int backoff_ms = kFirstBackoffMs;
  while (!stop_) {
    if (!conn_) {
      if (!connect(/*after_gap=*/true)) {
        if (wait_for(-1, 0, backoff_ms) == Wait::stopped) return;
        backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
        continue;
      }
      backoff_ms = kFirstBackoffMs;
    }
    bool alive = true;
    switch (wait_for(PQsocket(conn_), POLLIN, kIdleProbeMs)) {
      case Wait::stopped:
        return;
      case Wait::timed_out:
        alive = run("SELECT 1");
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
    if (any && hooks_.on_notify) hooks_.on_notify();
    if (!alive && !stop_) disconnect();
  }
}

}  // namespace imgbatch::store::postgres
