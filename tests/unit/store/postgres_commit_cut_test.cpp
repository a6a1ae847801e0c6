// "COMMIT outcome unknown": the connection breaks after the Store sent COMMIT and before the
// server's answer arrived, so the Store cannot know whether the transaction was saved. It
// says so with a StoreError (it must not run the transaction again by itself), discards the
// connection, and the caller (the pipeline) calls finish_tasks again with the same
// outcomes, perhaps with new ones. Whether the server had saved the transaction or not,
// every outcome must then count exactly once, the request complete once, and one webhook
// delivery exist. A TcpProxy between the Store and the server makes the cut happen at
// exactly that moment.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "store/store.hpp"
#include "support/postgres_cluster.hpp"
#include "support/tcp_proxy.hpp"
#include "unit/store/postgres_fixtures.hpp"

namespace imgbatch::store::testing {
namespace {

using namespace std::chrono_literals;
using test_support::PostgresCluster;
using test_support::TcpProxy;

// A schema of the test's own, reached through a proxy.
class ProxiedSchema {
 public:
  ProxiedSchema() : name_(cluster().create_schema()), proxy_(cluster().port()) {}
  ~ProxiedSchema() {
    try {
      cluster().drop_schema(name_);
    } catch (const std::exception&) {
    }
  }
  // The schema's URI with the proxy's port in place of the server's.
  std::string proxied_uri() const {
    std::string uri = cluster().schema_uri(name_);
    const std::string server = ":" + std::to_string(cluster().port()) + "/";
    uri.replace(uri.find(server), server.size(), ":" + std::to_string(proxy_.port()) + "/");
    return uri;
  }
  TcpProxy& proxy() { return proxy_; }
  // The first column of `sql` run on the server directly, with {s} standing for the schema.
  std::string value(std::string sql) const {
    for (auto at = sql.find("{s}"); at != std::string::npos; at = sql.find("{s}"))
      sql.replace(at, 3, name_);
    const auto rows = cluster().column(kDb, sql);
    return rows.empty() ? "(no row)" : rows[0];
  }

 private:
  std::string name_;
  TcpProxy proxy_;
};

constexpr const char* kProgress =
    "SELECT status || ' ' || succeeded || '/' || failed || '/' || total FROM {s}.requests";
constexpr const char* kDeliveries = "SELECT count(*) FROM {s}.deliveries";
constexpr const char* kTaskStates =
    "SELECT string_agg(state, ',' ORDER BY image_idx) FROM {s}.tasks";

// The server saved the transaction that completed the request; only its answer was lost.
TEST(PostgresCommitCut, ASavedCommitWhoseAnswerWasLostCountsOnceWhenRunAgain) {
  ProxiedSchema schema;
  auto store = open_store(schema.proxied_uri());
  const std::string id =
      store->create_request(make_request(1, 3, "https://hooks.example.com/done")).request_id;
  const auto tasks = store->claim_tasks("w", 3, kT0, kLease);
  ASSERT_EQ(tasks.size(), 3u);
  const std::vector<core::TaskOutcome> outcomes{succeeded(tasks[0]), succeeded(tasks[1]),
                                                succeeded(tasks[2])};

  // The COMMIT of the transaction that queues the webhook, i.e. the one completing it.
  schema.proxy().arm_cut("INSERT INTO deliveries", TcpProxy::postgres_commit_message());
  const std::string error = error_of([&] { store->finish_tasks(outcomes, kT0 + 1); });
  ASSERT_TRUE(schema.proxy().wait_for_cut(10s)) << "the proxy never saw the COMMIT";
  EXPECT_NE(error.find("whether it was saved is unknown"), std::string::npos) << error;
  EXPECT_NE(error.find("committing task outcomes"), std::string::npos) << error;
  // It was saved.
  EXPECT_EQ(schema.value(kProgress), "completed 3/0/3");
  EXPECT_EQ(schema.value(kDeliveries), "1");

  // The pipeline runs the batch again: on a new connection (the broken one was discarded),
  // changing nothing, and not reporting the completion a second time.
  const int connections = schema.proxy().connections_accepted();
  EXPECT_EQ(store->finish_tasks(outcomes, kT0 + 2), std::vector<std::string>{});
  EXPECT_GT(schema.proxy().connections_accepted(), connections);
  EXPECT_EQ(schema.value(kProgress), "completed 3/0/3");
  EXPECT_EQ(schema.value(kTaskStates), "done,done,done");
  EXPECT_EQ(schema.value(kDeliveries), "1");
  const auto record = store->get_request(id);
  EXPECT_EQ(record->progress.succeeded, 3);
  EXPECT_EQ(record->status, core::RequestStatus::completed);
  const auto deliveries = store->claim_deliveries(kT0 + 3, 10, kLease);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].request_id, id);
}

// The COMMIT never reached the server: it rolled the transaction back when the connection
// ended, so running the batch again records all of it, once.
TEST(PostgresCommitCut, ACommitThatNeverArrivedIsRecordedWholeWhenRunAgain) {
  ProxiedSchema schema;
  auto store = open_store(schema.proxied_uri());
  const std::string id =
      store->create_request(make_request(1, 3, "https://hooks.example.com/done")).request_id;
  const auto tasks = store->claim_tasks("w", 3, kT0, kLease);
  ASSERT_EQ(tasks.size(), 3u);
  const std::vector<core::TaskOutcome> outcomes{succeeded(tasks[0]), failed(tasks[1]),
                                                succeeded(tasks[2])};

  schema.proxy().arm_cut("INSERT INTO deliveries", TcpProxy::postgres_commit_message(),
                         TcpProxy::Cut::before_forwarding);
  const std::string error = error_of([&] { store->finish_tasks(outcomes, kT0 + 1); });
  ASSERT_TRUE(schema.proxy().wait_for_cut(10s)) << "the proxy never saw the COMMIT";
  EXPECT_NE(error.find("whether it was saved is unknown"), std::string::npos) << error;
  // The server ends the transaction when it sees its client gone; until then its row
  // locks stand, and the retry below would wait for them (which is fine too).
  EXPECT_EQ(schema.value(kDeliveries), "0");

  EXPECT_EQ(store->finish_tasks(outcomes, kT0 + 2), std::vector<std::string>{id});
  EXPECT_EQ(schema.value(kProgress), "completed 2/1/3");
  EXPECT_EQ(schema.value(kTaskStates), "done,failed,done");
  EXPECT_EQ(schema.value(kDeliveries), "1");
}

// What the pipeline does: the batch whose COMMIT was cut goes back to the front of the
// queue, and the next flush sends it with the outcomes that arrived meanwhile. Those of
// the saved part change nothing; the new ones count once and complete the request once.
TEST(PostgresCommitCut, ABatchRunAgainWithNewOutcomesCountsEachOutcomeOnce) {
  ProxiedSchema schema;
  auto store = open_store(schema.proxied_uri());
  const std::string id =
      store->create_request(make_request(1, 3, "https://hooks.example.com/done")).request_id;
  const auto tasks = store->claim_tasks("w", 3, kT0, kLease);
  ASSERT_EQ(tasks.size(), 3u);

  schema.proxy().arm_cut("", TcpProxy::postgres_commit_message());  // the next COMMIT
  const std::string error = error_of([&] {
    store->finish_tasks({succeeded(tasks[0]), failed(tasks[1])}, kT0 + 1);
  });
  ASSERT_TRUE(schema.proxy().wait_for_cut(10s)) << "the proxy never saw the COMMIT";
  EXPECT_NE(error.find("whether it was saved is unknown"), std::string::npos) << error;
  EXPECT_EQ(schema.value(kProgress), "processing 1/1/3");

  EXPECT_EQ(
      store->finish_tasks({succeeded(tasks[0]), failed(tasks[1]), succeeded(tasks[2])}, kT0 + 2),
      std::vector<std::string>{id});
  EXPECT_EQ(schema.value(kProgress), "completed 2/1/3");
  EXPECT_EQ(schema.value(kDeliveries), "1");
  // And a late duplicate of the whole batch changes nothing.
  EXPECT_EQ(
      store->finish_tasks({succeeded(tasks[0]), failed(tasks[1]), succeeded(tasks[2])}, kT0 + 3),
      std::vector<std::string>{});
  EXPECT_EQ(schema.value(kProgress), "completed 2/1/3");
  EXPECT_EQ(schema.value(kDeliveries), "1");
}

}  // namespace
}  // namespace imgbatch::store::testing
