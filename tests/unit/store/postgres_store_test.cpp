// What only the PostgreSQL backend has: migrations raced by several processes, a server
// that restarts or ends connections under a live Store, LISTEN/NOTIFY wake-ups, the
// connection pool, concurrent finishers locking two requests, concurrent claims planned
// from the same rows, text PostgreSQL cannot hold, and messages for URIs that do not work
// (without the password).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.hpp"
#include "store/postgres/presence.hpp"
#include "store/postgres/schema.hpp"
#include "store/store.hpp"
#include "support/postgres_cluster.hpp"
#include "unit/store/postgres_fixtures.hpp"
#include "unit/store/wake_counter.hpp"

namespace imgbatch::store::testing {
namespace {

using namespace std::chrono_literals;
using test_support::PostgresCluster;

// Counts calls of a watch's callback and lets a test wait for the next one.

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const StoreError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no StoreError was thrown";
  return {};
}

// ---- opening and migrations ------------------------------------------------------------

TEST(PostgresStore, OpensWithEitherScheme) {
  Schema schema;
  const std::string uri = schema.uri();
  ASSERT_TRUE(uri.starts_with("postgresql://"));
  auto store = open_store(uri);
  EXPECT_TRUE(store->ping());
  auto short_form = open_store("postgres://" + uri.substr(std::string("postgresql://").size()));
  EXPECT_TRUE(short_form->ping());
  const std::string id = store->create_request(make_request(1, 1)).request_id;
  EXPECT_TRUE(short_form->get_request(id).has_value());
}

TEST(PostgresStore, ManyProcessesStartingAtOnceMigrateAnEmptyDatabaseOnce) {
  const std::string database = cluster().create_database();
  constexpr int kStarters = 8;
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  std::vector<std::unique_ptr<Store>> stores(kStarters);
  std::vector<std::thread> threads;
  for (int t = 0; t < kStarters; ++t) {
    threads.emplace_back([&, t] {
      ++ready;
      while (ready < kStarters) std::this_thread::yield();  // all at once
      try {
        stores[static_cast<std::size_t>(t)] = open_store(cluster().uri(database));
      } catch (const StoreError& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  // Each migration recorded once.
  std::vector<std::string> versions;
  for (const auto& step : postgres::migrations()) versions.push_back(std::to_string(step.version));
  EXPECT_EQ(cluster().column(database, "SELECT version FROM schema_migrations ORDER BY version"),
            versions);
  EXPECT_EQ(cluster().column(database,
                             "SELECT count(*) FROM information_schema.tables"
                             " WHERE table_schema = 'public'"
                             " AND table_name IN ('requests', 'products', 'tasks', 'deliveries')"),
            std::vector<std::string>{"4"});
  // Every one of them works on the one schema.
  const std::string id = stores[0]->create_request(make_request(1, 2)).request_id;
  for (auto& store : stores) {
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->get_request(id).has_value());
  }
}

TEST(PostgresStore, RefusesADatabaseMigratedByANewerBuild) {
  Schema schema;
  open_store(schema.uri());
  cluster().execute(kDb, "INSERT INTO " + schema.name() +
                             ".schema_migrations (version, applied_at) VALUES (99, 0)");
  const std::string message = message_of([&] { open_store(schema.uri()); });
  EXPECT_NE(message.find("schema version 99"), std::string::npos) << message;
  EXPECT_NE(message.find("newer imgbatch"), std::string::npos) << message;
}

// ---- connections that break ------------------------------------------------------------

TEST(PostgresStore, WorksAgainAfterTheServerRestartsWithoutReopening) {
  Schema schema;
  auto store = schema.open();
  const std::string id = store->create_request(make_request(1, 2)).request_id;
  ASSERT_TRUE(store->get_request(id).has_value());

  cluster().stop();
  const std::string message = message_of([&] { store->get_request(id); });
  EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
  EXPECT_FALSE(store->ping());

  cluster().start();
  const auto record = store->get_request(id);  // the first call after the restart
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->progress.total, 2);
  EXPECT_EQ(store->claim_tasks("w", 10, kT0, kLease).size(), 2u);
  EXPECT_TRUE(store->ping());
}

TEST(PostgresStore, ConnectionsEndedByTheServerWhileIdleAreReplaced) {
  Schema schema;
  auto store = schema.open();
  const std::string id = store->create_request(make_request(1, 1)).request_id;
  const std::string backends =
      "SELECT pid FROM pg_stat_activity"
      " WHERE application_name = 'imgbatch' AND datname = current_database()";
  cluster().execute(kDb, "SELECT pg_terminate_backend(pid) FROM (" + backends + ") b");
  // Gone before the next call, so that the pool finds them closed rather than the call
  // finding out midway (ATransactionCutOffMidwayRunsAgainOnANewConnection covers that).
  ASSERT_TRUE(eventually([&] { return cluster().column(kDb, backends).empty(); }));
  EXPECT_TRUE(store->get_request(id).has_value());
  EXPECT_EQ(store->claim_tasks("w", 10, kT0, kLease).size(), 1u);
}

// The server ends the connection in the middle of a transaction (here: while it waits for a
// row lock). The transaction was rolled back, so the Store runs it again on a new
// connection, and the outcome counts exactly once.
TEST(PostgresStore, ATransactionCutOffMidwayRunsAgainOnANewConnection) {
  Schema schema;
  auto store = schema.open();
  const std::string id = store->create_request(make_request(1, 1)).request_id;
  const auto tasks = store->claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);

  // Another session holds the request's row lock, so finishing will wait for it.
  PGconn* blocker = PQconnectdb(schema.uri().c_str());
  ASSERT_EQ(PQstatus(blocker), CONNECTION_OK) << PQerrorMessage(blocker);
  PQclear(PQexec(blocker, "BEGIN"));
  PGresult* locked = PQexec(blocker, "SELECT 1 FROM requests FOR UPDATE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQresultErrorMessage(locked);
  PQclear(locked);

  std::vector<std::string> completed;
  std::string error;
  std::thread finisher([&] {
    try {
      completed = store->finish_tasks({succeeded(tasks[0])}, kT0 + 1);
    } catch (const StoreError& e) {
      error = e.what();
    }
  });
  const std::string waiting_backends =
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'imgbatch'"
      " AND datname = current_database() AND wait_event_type = 'Lock'";
  std::string first_pid;
  EXPECT_TRUE(eventually([&] {
    const auto pids = cluster().column(kDb, waiting_backends);
    if (!pids.empty()) first_pid = pids[0];
    return !pids.empty();
  }));
  cluster().execute(kDb, "SELECT pg_terminate_backend(" + first_pid + ")");
  // The call runs again on a new connection and waits for the lock again.
  EXPECT_TRUE(eventually([&] {
    const auto pids = cluster().column(kDb, waiting_backends);
    return !pids.empty() && pids[0] != first_pid;
  }));
  PQclear(PQexec(blocker, "ROLLBACK"));
  PQfinish(blocker);
  finisher.join();

  EXPECT_EQ(error, "");
  EXPECT_EQ(completed, std::vector<std::string>{id});
  const auto record = store->get_request(id);
  EXPECT_EQ(record->progress.succeeded, 1);
  EXPECT_EQ(record->status, core::RequestStatus::completed);
}

// Two claims started while the request's row is locked (as finish_tasks locks it) end one
// after the other. Had the second planned from the same rows as the first, its smaller
// claim would write a smaller last_turn and take the request's counter back below the
// one the first wrote, so the request would look served less recently than it was (fair
// turns: last_turn only goes up). Claims take turns on the claim lock, so the second plans
// after the first has committed: its turn comes after the first's (GREATEST in the claim
// keeps the counter from going back should a plan ever be stale).
TEST(PostgresStore, ClaimsStartedTogetherNeverTakeATurnBack) {
  Schema schema;
  auto big = schema.open();
  auto small = schema.open();
  const std::string id = big->create_request(make_request(10, 1)).request_id;

  PGconn* blocker = PQconnectdb(schema.uri().c_str());
  ASSERT_EQ(PQstatus(blocker), CONNECTION_OK) << PQerrorMessage(blocker);
  const auto last_turn = [&] {
    PGresult* result = PQexec(blocker, "SELECT last_turn FROM requests");
    const std::string value = PQntuples(result) == 1 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
  };
  PQclear(PQexec(blocker, "BEGIN"));
  PGresult* locked = PQexec(blocker, "SELECT 1 FROM requests FOR UPDATE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQresultErrorMessage(locked);
  PQclear(locked);

  const std::string waiting_backends =
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'imgbatch'"
      " AND datname = current_database() AND wait_event_type = 'Lock'";
  const auto waiting = [&](const char* count) {
    return eventually(
        [&] { return cluster().column(kDb, waiting_backends) == std::vector<std::string>{count}; });
  };
  std::vector<core::ClaimedTask> of_big, of_small;
  std::thread first([&] { of_big = big->claim_tasks("big", 4, kT0, kLease); });
  EXPECT_TRUE(waiting("1"));  // planned 4 tasks: last_turn 4
  std::thread second([&] { of_small = small->claim_tasks("small", 1, kT0, kLease); });
  EXPECT_TRUE(waiting("2"));  // waits for the claim lock, then plans 1 task: turn 5
  PQclear(PQexec(blocker, "ROLLBACK"));
  first.join();
  second.join();

  EXPECT_EQ(of_big.size(), 4u);
  ASSERT_EQ(of_small.size(), 1u);  // the fifth task: the first four were taken
  EXPECT_EQ(of_small[0].request_id, id);
  EXPECT_EQ(of_small[0].product_index, 4);
  EXPECT_EQ(last_turn(), "5");
  PQfinish(blocker);
}

// ---- LISTEN/NOTIFY ---------------------------------------------------------------------

// Retention runs on one node at a time: a purge step that finds the retention lock taken
// (here by another session, as another node's step would hold it) does nothing and says
// so at once, rather than wait; the next step, once the lock is free, does the work.
TEST(PostgresStore, APurgeStepSkipsWhileAnotherNodeRunsOne) {
  Schema schema;
  auto store = schema.open();
  const std::string id = store->create_request(make_request(1, 1)).request_id;
  const auto tasks = store->claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(store->finish_tasks({succeeded(tasks[0])}, kT0 + 1), std::vector<std::string>{id});
  ASSERT_EQ(store->delete_request(id), Store::DeleteOutcome::deleted);

  // The lock postgres_store.cpp takes: space "imgr", key 0.
  PGconn* other_node = PQconnectdb(schema.uri().c_str());
  ASSERT_EQ(PQstatus(other_node), CONNECTION_OK) << PQerrorMessage(other_node);
  PGresult* locked = PQexec(other_node, "SELECT pg_advisory_lock(1768777586, 0)");
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQresultErrorMessage(locked);
  PQclear(locked);

  const Store::PurgeStep skipped = store->purge_step(kT0, kT0 + 2, 500);
  EXPECT_TRUE(skipped.busy);
  EXPECT_EQ(skipped.removed, 0);
  EXPECT_EQ(cluster().column(kDb, "SELECT count(*) FROM " + schema.name() + ".tasks"),
            std::vector<std::string>{"1"});

  // Let go before the session ends: the server may notice a closed connection late.
  PGresult* unlocked = PQexec(other_node, "SELECT pg_advisory_unlock(1768777586, 0)");
  ASSERT_EQ(PQresultStatus(unlocked), PGRES_TUPLES_OK) << PQresultErrorMessage(unlocked);
  PQclear(unlocked);
  PQfinish(other_node);
  const Store::PurgeStep step = store->purge_step(kT0, kT0 + 3, 500);
  EXPECT_FALSE(step.busy);
  EXPECT_EQ(step.removed, 3);
  EXPECT_FALSE(step.more);
  EXPECT_EQ(store->pending_blob_deletions(10), std::vector<std::string>{id + "/0-0.jpg"});
}

TEST(PostgresStore, WatchWakesWhenAnotherStoreMakesWorkClaimable) {
  Schema schema;
  auto watched = schema.open();
  auto other = schema.open();  // a second process
  WakeCounter wakes;
  auto watch = watched->watch_new_work(wakes.callback());
  ASSERT_NE(watch, nullptr);

  other->create_request(make_request(1, 2));
  ASSERT_TRUE(wakes.wait_above(0)) << "no wake-up for a new request";

  int seen = wakes.count();
  const auto tasks = other->claim_tasks("w", 2, kT0, 1000);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(other->release_expired_leases(kT0 + 2000), 2);
  EXPECT_TRUE(wakes.wait_above(seen)) << "no wake-up for released leases";

  seen = wakes.count();
  const auto again = other->claim_tasks("w", 1, kT0 + 3000, kLease);
  ASSERT_EQ(again.size(), 1u);
  core::TaskOutcome retry;
  retry.task_id = again[0].task_id;
  retry.request_id = again[0].request_id;
  retry.kind = core::TaskOutcome::Kind::retry;
  retry.retry_at = kT0 + 9000;
  retry.owner = "w";
  other->finish_tasks({retry}, kT0 + 4000);
  EXPECT_TRUE(wakes.wait_above(seen)) << "no wake-up for a scheduled retry";

  const auto stopping = std::chrono::steady_clock::now();
  watch.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 5s);
}

TEST(PostgresStore, WatchListensAgainAfterTheServerRestarts) {
  Schema schema;
  auto watched = schema.open();
  WakeCounter wakes;
  auto watch = watched->watch_new_work(wakes.callback());
  ASSERT_NE(watch, nullptr);

  cluster().stop();
  cluster().start();
  // One wake-up on reconnecting, for what was announced while the watch was away.
  ASSERT_TRUE(wakes.wait_above(0)) << "the watch did not reconnect";
  const int seen = wakes.count();
  schema.open()->create_request(make_request(1, 1));
  EXPECT_TRUE(wakes.wait_above(seen)) << "no wake-up after the restart";
}

TEST(PostgresStore, WatchOnAnUnreachableServerKeepsTryingAndStopsPromptly) {
  Schema schema;
  auto store = schema.open();
  cluster().stop();
  WakeCounter wakes;
  auto watch = store->watch_new_work(wakes.callback());
  ASSERT_NE(watch, nullptr);
  cluster().start();
  EXPECT_TRUE(wakes.wait_above(0)) << "the watch did not connect once the server was back";
  const auto stopping = std::chrono::steady_clock::now();
  watch.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 5s);
}

// ---- the pool and concurrency ----------------------------------------------------------

TEST(PostgresStore, ManyThreadsShareAFewConnections) {
  Schema schema;
  auto store = schema.open();
  const std::string id = store->create_request(make_request(2, 2)).request_id;
  constexpr int kThreads = 12;
  std::atomic<int> ready{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      ++ready;
      while (ready < kThreads) std::this_thread::yield();
      try {
        for (int k = 0; k < 20; ++k) {
          if (!store->get_request(id)) ++errors;
          store->queue_depth();
        }
      } catch (const StoreError& e) {
        ADD_FAILURE() << e.what();
        ++errors;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  const auto open =
      cluster().column(kDb,
                       "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'imgbatch'"
                       " AND datname = current_database()");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_GE(std::stoi(open[0]), 1);
  EXPECT_LE(std::stoi(open[0]), 4);
}

// Each batch holds a task of each request, in opposite orders in the two finishers, so
// their transactions lock the two request rows in opposite orders: a deadlock that the
// server breaks by rolling one back, which the Store then runs again.
TEST(PostgresStore, ConcurrentFinishersOfTwoRequestsCompleteEachOnce) {
  Schema schema;
  auto first = schema.open();
  auto second = schema.open();
  const std::string a = first->create_request(make_request(60, 1)).request_id;
  const std::string b = first->create_request(make_request(60, 1)).request_id;
  const auto tasks = first->claim_tasks("w", 1000, kT0, kLease);
  ASSERT_EQ(tasks.size(), 120u);
  std::vector<core::ClaimedTask> of_a(tasks.begin(), tasks.begin() + 60);
  std::vector<core::ClaimedTask> of_b(tasks.begin() + 60, tasks.end());
  ASSERT_EQ(of_a.back().request_id, a);
  ASSERT_EQ(of_b.front().request_id, b);

  std::mutex mutex;
  std::vector<std::string> completions;
  std::atomic<int> errors{0};
  auto finisher = [&](Store& store, std::size_t parity) {
    try {
      for (std::size_t k = parity; k < 60; k += 2) {
        std::vector<core::TaskOutcome> batch = {succeeded(of_a[k]), succeeded(of_b[k])};
        if (parity) std::swap(batch[0], batch[1]);
        const auto done = store.finish_tasks(batch, kT0 + 1);
        std::lock_guard lock(mutex);
        completions.insert(completions.end(), done.begin(), done.end());
      }
    } catch (const StoreError& e) {
      ADD_FAILURE() << e.what();
      ++errors;
    }
  };
  std::thread one(finisher, std::ref(*first), 0);
  std::thread two(finisher, std::ref(*second), 1);
  one.join();
  two.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(std::multiset<std::string>(completions.begin(), completions.end()),
            (std::multiset<std::string>{a, b}));
  for (const std::string& id : {a, b}) {
    const auto record = first->get_request(id);
    EXPECT_EQ(record->status, core::RequestStatus::completed);
    EXPECT_EQ(record->progress.succeeded, 60);
  }
}

// Two processes claiming at once never both take tasks of one source: the second waits for
// the first's download (docs/architecture.md, "Shared sources and outputs"). In READ
// COMMITTED each claim alone would see the other's tasks still pending; here the two tasks
// of each source are neighbours in one request, where FOR UPDATE SKIP LOCKED hands one to
// each claimer unless the claims take turns. Many rounds of many sources, small claims.
TEST(PostgresStore, ConcurrentClaimersNeverBothHoldTasksOfOneSource) {
  Schema schema;
  auto loader = schema.open();
  constexpr int kRounds = 8;
  constexpr int kRequests = 6;
  constexpr int kSourcesEach = 8;  // two tasks each
  for (int round = 0; round < kRounds; ++round) {
    for (int r = 0; r < kRequests; ++r) {
      core::NewRequest request = make_request(1, 2 * kSourcesEach);
      for (int i = 0; i < 2 * kSourcesEach; ++i)
        request.source_keys.push_back("round" + std::to_string(round) + "-r" + std::to_string(r) +
                                      "-s" + std::to_string(i / 2));
      ASSERT_EQ(loader->create_request(request).kind, core::CreateOutcome::Kind::created);
    }
    std::atomic<int> ready{0};
    std::array<std::set<std::string>, 2> held;
    auto claimer = [&](int me) {
      auto store = schema.open();
      const std::string owner = me == 0 ? "a" : "b";
      ++ready;
      while (ready < 2) std::this_thread::yield();
      try {
        for (int empty = 0; empty < 3;) {
          const auto tasks = store->claim_tasks(owner, 3, kT0, kLease);
          if (tasks.empty()) ++empty;
          for (const auto& task : tasks)
            held[static_cast<std::size_t>(me)].insert(*task.source_key);
        }
      } catch (const StoreError& e) {
        ADD_FAILURE() << e.what();
      }
    };
    std::thread one(claimer, 0);
    std::thread two(claimer, 1);
    one.join();
    two.join();
    std::vector<std::string> both;
    std::set_intersection(held[0].begin(), held[0].end(), held[1].begin(), held[1].end(),
                          std::back_inserter(both));
    EXPECT_TRUE(both.empty()) << "round " << round << ": " << both.size()
                              << " source(s) held by both, e.g. " << both.front();
    EXPECT_EQ(held[0].size() + held[1].size(), std::size_t{kRequests * kSourcesEach});
  }
}

// ---- text ------------------------------------------------------------------------------

TEST(PostgresStore, TextPostgresCannotHoldIsStoredWithReplacementCharacters) {
  Schema schema;
  auto store = schema.open();
  core::NewRequest request = make_request(1, 1);
  request.products[0].product_name = std::string("nul\0name", 8);
  request.products[0].serial_number = "bad\xff";
  const std::string id = store->create_request(request).request_id;
  const auto tasks = store->claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);
  core::TaskOutcome failed;
  failed.task_id = tasks[0].task_id;
  failed.request_id = id;
  failed.kind = core::TaskOutcome::Kind::failed;
  failed.error = "server said \xc3\x28 and\ttabs\nnewlines \\ \"quotes\"";
  EXPECT_EQ(store->finish_tasks({failed}, kT0 + 1), std::vector<std::string>{id});

  const auto products = store->get_products(id, 0, 1);
  ASSERT_EQ(products.size(), 1u);
  EXPECT_EQ(products[0].product_name, "nul\xEF\xBF\xBDname");
  EXPECT_EQ(products[0].serial_number, "bad\xEF\xBF\xBD");
  ASSERT_EQ(products[0].images.size(), 1u);
  EXPECT_EQ(products[0].images[0].error,
            "server said \xEF\xBF\xBD( and\ttabs\nnewlines \\ \"quotes\"");
}

// ---- URIs that do not work -------------------------------------------------------------

TEST(PostgresStore, UnreachableServerIsNamedWithoutThePassword) {
  constexpr int closed_port = 1;  // nothing listens there
  const std::string message = message_of([&] {
    open_store("postgresql://imgbatch:s3cret-pw@127.0.0.1:" + std::to_string(closed_port) +
               "/imgbatch");
  });
  EXPECT_NE(message.find("cannot connect to postgresql://imgbatch@127.0.0.1:"), std::string::npos)
      << message;
  EXPECT_EQ(message.find("s3cret-pw"), std::string::npos) << message;

  const std::string in_query = message_of([&] {
    open_store("postgresql://imgbatch@127.0.0.1:" + std::to_string(closed_port) +
               "/imgbatch?password=s3cret-pw");
  });
  EXPECT_NE(in_query.find("cannot connect"), std::string::npos) << in_query;
  EXPECT_EQ(in_query.find("s3cret-pw"), std::string::npos) << in_query;
}

TEST(PostgresStore, MalformedUriAndMissingDatabaseAreExplained) {
  const std::string malformed =
      message_of([] { open_store("postgresql://imgbatch:s3cret-pw@[::1/imgbatch"); });
  EXPECT_NE(malformed.find("not valid"), std::string::npos) << malformed;
  EXPECT_EQ(malformed.find("s3cret-pw"), std::string::npos) << malformed;

  const std::string missing = message_of([] { open_store(cluster().uri("no_such_database")); });
  EXPECT_NE(missing.find("no_such_database"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;

  // Authentication failures come from the server the same way (this cluster trusts every
  // role it has, so an unknown role stands in for a wrong password).
  const std::string role = message_of([] {
    open_store("postgresql://nobody:s3cret-pw@127.0.0.1:" + std::to_string(cluster().port()) + "/" +
               std::string(kDb));
  });
  EXPECT_NE(role.find("cannot connect to postgresql://nobody@127.0.0.1"), std::string::npos)
      << role;
  EXPECT_NE(role.find("role \"nobody\" does not exist"), std::string::npos) << role;
  EXPECT_EQ(role.find("s3cret-pw"), std::string::npos) << role;

  const std::string unknown = message_of([] { open_store("mysql://root:s3cret-pw@db/imgbatch"); });
  EXPECT_NE(unknown.find("postgresql://"), std::string::npos) << unknown;
  EXPECT_EQ(unknown.find("s3cret-pw"), std::string::npos) << unknown;
}

// ---- presence: telling a dead owner from a live one -------------------------------------

// How many sessions hold the presence lock under `key` (0 or 1).
std::string presence_lock_holders(const std::string& key) {
  return "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
         " AND classid = " +
         std::to_string(postgres::kPresenceLockSpace) + " AND objid = " + key + " AND objsubid = 2";
}

std::vector<std::string> presence_key(const Schema& schema, const std::string& owner) {
  return cluster().column(kDb, "SELECT lock_key FROM " + schema.name() +
                                   ".live_processes WHERE owner = '" + owner + "'");
}

TEST(PostgresStore, AnAnnouncedProcessHoldsItsLockUntilItSaysGoodbye) {
  Schema schema;
  auto store = schema.open();
  auto presence = store->announce_process("owner-1");
  const auto key = presence_key(schema, "owner-1");
  ASSERT_EQ(key.size(), 1u);
  EXPECT_EQ(cluster().column(kDb, presence_lock_holders(key[0])), std::vector<std::string>{"1"});

  presence.reset();
  EXPECT_TRUE(presence_key(schema, "owner-1").empty()) << "the goodbye removes the row";
  EXPECT_TRUE(eventually([&] {
    return cluster().column(kDb, presence_lock_holders(key[0])) == std::vector<std::string>{"0"};
  }));
}

// A process that dies without a goodbye, played by a bare libpq session that announces
// itself as the store does and is then closed: from the server's side, exactly what
// kill -9 of the process (or the loss of its host) looks like.
TEST(PostgresStore, TheLeasesOfAnOwnerWhoseSessionEndedAreReleasedAtOnce) {
  Schema schema;
  auto store = schema.open();
  const std::string id = store->create_request(make_request(1, 5)).request_id;
  ASSERT_EQ(store->claim_tasks("alive", 2, kT0, kLease).size(), 2u);
  ASSERT_EQ(store->claim_tasks("doomed", 3, kT0, kLease).size(), 3u);
  const auto alive = store->announce_process("alive");

  PGconn* doomed = PQconnectdb(schema.uri().c_str());
  ASSERT_EQ(PQstatus(doomed), CONNECTION_OK) << PQerrorMessage(doomed);
  PGresult* announced =
      PQexec(doomed, ("INSERT INTO live_processes (owner, lock_key, since)"
                      " VALUES ('doomed', pg_backend_pid(), 0)"
                      " RETURNING pg_advisory_lock(" +
                      std::to_string(postgres::kPresenceLockSpace) + ", lock_key)")
                         .c_str());
  ASSERT_EQ(PQresultStatus(announced), PGRES_TUPLES_OK) << PQresultErrorMessage(announced);
  PQclear(announced);

  // Both sessions live: nobody has departed, and a lease with a year to run stays put.
  EXPECT_EQ(store->release_departed_owners("checker", kT0 + 1), 0);
  EXPECT_EQ(store->queue_depth().running, 5);

  PQfinish(doomed);
  int released = 0;
  ASSERT_TRUE(eventually([&] {
    released += store->release_departed_owners("checker", kT0 + 2);
    return released > 0;
  }));
  EXPECT_EQ(released, 3) << "the dead owner's leases, and only those";
  EXPECT_EQ(store->release_departed_owners("checker", kT0 + 3), 0);
  EXPECT_EQ(store->lease_owners(), std::vector<std::string>{"alive"});
  EXPECT_TRUE(presence_key(schema, "doomed").empty()) << "the departed owner is forgotten";
  EXPECT_EQ(presence_key(schema, "alive").size(), 1u);
  // Released, not failed: claimed again, as a further attempt.
  const auto again = store->claim_tasks("rescuer", 10, kT0 + 4, kLease);
  ASSERT_EQ(again.size(), 3u);
  for (const auto& task : again) EXPECT_EQ(task.attempt, 2);
  EXPECT_EQ(store->get_request(id)->status, core::RequestStatus::processing);
}

TEST(PostgresStore, APresenceWhoseConnectionIsCutTakesItsLockAgain) {
  Schema schema;
  auto store = schema.open();
  store->create_request(make_request(1, 2));
  ASSERT_EQ(store->claim_tasks("owner-1", 2, kT0, kLease).size(), 2u);
  const auto presence = store->announce_process("owner-1");
  const auto first = presence_key(schema, "owner-1");
  ASSERT_EQ(first.size(), 1u);
  // The key is the backend PID of the presence's own connection: end that session.
  cluster().execute(kDb, "SELECT pg_terminate_backend(" + first[0] + ")");
  std::vector<std::string> second;
  ASSERT_TRUE(eventually([&] {
    second = presence_key(schema, "owner-1");
    return second.size() == 1 && second != first &&
           cluster().column(kDb, presence_lock_holders(second[0])) == std::vector<std::string>{"1"};
  })) << "the presence did not come back";
  // Back under its new key, the owner is alive again: nothing of its is released.
  EXPECT_EQ(store->release_departed_owners("checker", kT0 + 1), 0);
  EXPECT_EQ(store->queue_depth().running, 2);
}

}  // namespace
}  // namespace imgbatch::store::testing
