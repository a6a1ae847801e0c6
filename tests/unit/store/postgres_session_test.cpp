// The session settings every PostgreSQL connection of a Store starts with: statement_timeout
// and lock_timeout, set in the startup packet next to what the URI's `options` say, so that
// no call waits without end on a stuck statement or on a lock held by a session that
// stopped. A timeout is an ordinary StoreError, which callers treat as a database that is
// unavailable for a moment.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.hpp"
#include "store/postgres/conninfo.hpp"
#include "store/postgres/pool.hpp"
#include "store/store.hpp"
#include "support/postgres_cluster.hpp"
#include "unit/store/postgres_fixtures.hpp"

namespace imgbatch::store::testing {
namespace {

using namespace std::chrono_literals;
using postgres::SessionSettings;
using test_support::PostgresCluster;

// SHOW `name` on a connection that the Store's pool opens.
std::string show(postgres::ConnectionPool& pool, const std::string& name) {
  auto connection = pool.borrow();
  return connection->query("SHOW " + name, "showing a setting").text(0, 0);
}

// Another session that holds every row lock of a table until released.
class RowLocker {
 public:
  RowLocker(const std::string& uri, const std::string& table) : conn_(PQconnectdb(uri.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
    PQclear(PQexec(conn_, "BEGIN"));
    PGresult* locked = PQexec(conn_, ("SELECT 1 FROM " + table + " FOR UPDATE").c_str());
    EXPECT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQresultErrorMessage(locked);
    PQclear(locked);
  }
  ~RowLocker() { release(); }
  void release() {
    if (!conn_) return;
    PQclear(PQexec(conn_, "ROLLBACK"));
    PQfinish(conn_);
    conn_ = nullptr;
  }

 private:
  PGconn* conn_;
};

// Runs `call` on a thread while `locker` holds its locks. A call that is still waiting
// after a minute (far beyond any timeout set here) is a hang: the test fails, and the
// locks are released so that the call returns and the thread can be joined. Returns the
// StoreError's message, or "" when the call succeeded.
std::string error_while_locked(RowLocker& locker, const std::function<void()>& call) {
  auto done = std::async(std::launch::async, [&]() -> std::string {
    try {
      call();
      return "";
    } catch (const StoreError& e) {
      return e.what();
    }
  });
  if (done.wait_for(60s) != std::future_status::ready) {
    ADD_FAILURE() << "the call waited a minute for a lock: no timeout stopped it";
    locker.release();
  }
  return done.get();
}

// ---- the settings on every connection --------------------------------------------------

TEST(PostgresSession, PoolConnectionsStartWithTheTimeoutsAndKeepTheUrisOptions) {
  Schema schema;  // its URI sets search_path through `options`
  postgres::ConnectionPool pool(schema.uri(), SessionSettings{61s, 1500ms}, 1);
  EXPECT_EQ(show(pool, "statement_timeout"), "61s");
  EXPECT_EQ(show(pool, "lock_timeout"), "1500ms");
  EXPECT_EQ(show(pool, "search_path"), schema.name());
}

TEST(PostgresSession, TheStoreDefaultsAreAMinuteAndTenSeconds) {
  Schema schema;
  const OpenOptions defaults;
  postgres::ConnectionPool pool(
      schema.uri(), SessionSettings{defaults.statement_timeout, defaults.lock_timeout}, 1);
  EXPECT_EQ(show(pool, "statement_timeout"), "1min");
  EXPECT_EQ(show(pool, "lock_timeout"), "10s");
}

// Zero leaves a setting to the URI (or the role, database or server); a value given wins
// over the URI's, since it is the documented imgbatch option.
TEST(PostgresSession, ZeroLeavesTheSettingToTheUriAndAValueWinsOverIt) {
  Schema schema;
  const std::string uri = schema.uri() + "%20-cstatement_timeout%3D7s%20-clock_timeout%3D3s";
  postgres::ConnectionPool unset(uri, SessionSettings{}, 1);
  EXPECT_EQ(show(unset, "statement_timeout"), "7s");
  EXPECT_EQ(show(unset, "lock_timeout"), "3s");
  EXPECT_EQ(show(unset, "search_path"), schema.name());
  postgres::ConnectionPool set(uri, SessionSettings{20s, 2s}, 1);
  EXPECT_EQ(show(set, "statement_timeout"), "20s");
  EXPECT_EQ(show(set, "lock_timeout"), "2s");
  EXPECT_EQ(show(set, "search_path"), schema.name());
}

TEST(PostgresSession, StartupOptionsAppendToTheUrisOrToPgoptions) {
  const SessionSettings settings{60s, 10s};
  EXPECT_EQ(postgres::startup_options("postgresql://u@h/db", SessionSettings{}), "");
  EXPECT_EQ(postgres::startup_options("postgresql://u@h/db?options=-csearch_path%3Ds", settings),
            "-csearch_path=s -c statement_timeout=60000 -c lock_timeout=10000");
  EXPECT_EQ(postgres::startup_options("postgresql://u@h/db", SessionSettings{0ms, 250ms}),
            "-c lock_timeout=250");
  // An explicit `options` hides libpq's PGOPTIONS: it is carried over.
  ::setenv("PGOPTIONS", "-c work_mem=8MB", 1);
  EXPECT_EQ(postgres::startup_options("postgresql://u@h/db", settings),
            "-c work_mem=8MB -c statement_timeout=60000 -c lock_timeout=10000");
  EXPECT_EQ(postgres::startup_options("postgresql://u@h/db?options=-cwork_mem%3D1MB", settings),
            "-cwork_mem=1MB -c statement_timeout=60000 -c lock_timeout=10000");
  ::unsetenv("PGOPTIONS");
}

// The LISTEN connection is started by start_connection (ListenWatch drives it without
// blocking); it gets the same settings.
TEST(PostgresSession, NonBlockingConnectionsGetTheSettingsToo) {
  Schema schema;
  PGconn* conn = postgres::start_connection(schema.uri(), SessionSettings{42s, 4s});
  PostgresPollingStatusType status =
      PQstatus(conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED) {
    pollfd fd{PQsocket(conn),
              static_cast<short>(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    ::poll(&fd, 1, 10'000);
    status = PQconnectPoll(conn);
  }
  ASSERT_EQ(status, PGRES_POLLING_OK) << PQerrorMessage(conn);
  auto show_setting = [&](const char* sql) {
    PGresult* result = PQexec(conn, sql);
    std::string value = PQresultStatus(result) == PGRES_TUPLES_OK ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
  };
  EXPECT_EQ(show_setting("SHOW statement_timeout"), "42s");
  EXPECT_EQ(show_setting("SHOW lock_timeout"), "4s");
  EXPECT_EQ(show_setting("SHOW search_path"), schema.name());
  PQfinish(conn);
}

// ---- timeouts at work ------------------------------------------------------------------

// A session that holds the rows a call must change (a process stopped mid-transaction, a
// forgotten psql): the call fails after lock_timeout with a StoreError that says so,
// rather than waiting for as long as the other session lives. Nothing of the call is
// saved; once the lock is gone the same call succeeds and counts once.
TEST(PostgresSession, AStatementWaitingForALockFailsAfterLockTimeout) {
  Schema schema;
  OpenOptions options;
  options.lock_timeout = 200ms;
  auto store = open_store(schema.uri(), options);
  const std::string id = store->create_request(make_request(1, 2)).request_id;
  const auto tasks = store->claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  const std::vector<core::TaskOutcome> outcomes{succeeded(tasks[0]), succeeded(tasks[1])};

  RowLocker locker(schema.uri(), "tasks");
  const std::string error =
      error_while_locked(locker, [&] { store->finish_tasks(outcomes, kT0 + 1); });
  EXPECT_NE(error.find("lock timeout"), std::string::npos) << error;
  EXPECT_NE(error.find("--pg-lock-timeout"), std::string::npos) << error;
  EXPECT_NE(error.find("recording ended tasks"), std::string::npos) << error;
  locker.release();

  // The transaction was rolled back whole, and its connection serves the next call.
  EXPECT_EQ(store->get_request(id)->progress.succeeded, 0);
  EXPECT_EQ(store->finish_tasks(outcomes, kT0 + 2), std::vector<std::string>{id});
  EXPECT_EQ(store->get_request(id)->progress.succeeded, 2);
  EXPECT_EQ(store->get_request(id)->status, core::RequestStatus::completed);
}

// With lock_timeout off, statement_timeout still bounds the wait.
TEST(PostgresSession, AStatementRunningTooLongFailsAfterStatementTimeout) {
  Schema schema;
  OpenOptions options;
  options.statement_timeout = 300ms;
  options.lock_timeout = 0ms;
  auto store = open_store(schema.uri(), options);
  store->create_request(make_request(1, 1));
  const auto tasks = store->claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);

  RowLocker locker(schema.uri(), "tasks");
  const std::string error = error_while_locked(
      locker, [&] { store->renew_leases("w", {tasks[0].task_id}, kT0 + kLease + 1); });
  EXPECT_NE(error.find("statement timeout"), std::string::npos) << error;
  EXPECT_NE(error.find("--pg-statement-timeout"), std::string::npos) << error;
  locker.release();
  EXPECT_EQ(store->renew_leases("w", {tasks[0].task_id}, kT0 + kLease + 1), 1);
}

}  // namespace
}  // namespace imgbatch::store::testing
