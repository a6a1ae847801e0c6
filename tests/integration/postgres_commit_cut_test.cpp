// "COMMIT outcome unknown" through the whole processing path: the pipeline (curl fetcher
// against the local test origin, libvips, file storage) and the webhook dispatcher on a
// PostgreSQL store whose connections pass through a TcpProxy. The proxy cuts the
// connection right after it forwards the COMMIT of the transaction that completes the
// request (the server saves it, the answer never arrives). The pipeline keeps the batch
// and records it again; the request must complete once, every image count once and be
// processed once, and exactly one webhook be queued and sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.hpp"
#include "core/ids.hpp"
#include "fetch/fetcher.hpp"
#include "imaging/compressor.hpp"
#include "pipeline/pipeline.hpp"
#include "store/store.hpp"
#include "support/blob_options.hpp"
#include "support/http_receiver.hpp"
#include "support/postgres_cluster.hpp"
#include "support/tcp_proxy.hpp"
#include "support/temp_dir.hpp"
#include "support/test_origin.hpp"
#include "webhook/dispatcher.hpp"

namespace imgbatch {
namespace {

using namespace std::chrono_literals;
using test_support::HttpReceiver;
using test_support::PostgresCluster;
using test_support::ReceivedRequest;
using test_support::TcpProxy;
using test_support::TestOrigin;

PostgresCluster& cluster() { return PostgresCluster::shared(); }

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::vector<std::string> photos(std::size_t count) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    if (entry.path().extension() == ".jpg") names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  names.resize(std::min(count, names.size()));
  return names;
}

class PostgresCommitCutPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { imaging::init_vips("postgres_commit_cut_test"); }

  void SetUp() override {
    std::string uri = cluster().schema_uri(schema_);
    const std::string server = ":" + std::to_string(cluster().port()) + "/";
    uri.replace(uri.find(server), server.size(), ":" + std::to_string(proxy_.port()) + "/");
    store_ = store::open_store(uri);
    blobs_ = blob::open_blob_store("file:" + (dir_.path() / "images").string(),
                                   test_support::blob_options(false));

    webhook::DispatcherOptions dispatch;
    dispatch.allow_private_networks = true;  // the receiver is on loopback
    dispatch.idle_poll = 50ms;
    dispatcher_ = std::make_unique<webhook::Dispatcher>(dispatch, *store_);

    fetch::FetchLimits limits;
    limits.allow_private_networks = true;  // the origin is on loopback
    limits.timeout_ms = 20'000;
    fetcher_ = fetch::make_curl_fetcher(limits, 4);
    pipeline::Options options;
    options.compress_threads = 1;
    options.idle_poll = 50ms;
    pipeline_ = std::make_unique<pipeline::Pipeline>(
        options, *store_, *blobs_, *fetcher_, [this](const std::vector<std::string>& ids) {
          {
            std::lock_guard lock(mutex_);
            completions_.insert(completions_.end(), ids.begin(), ids.end());
          }
          dispatcher_->wake();
        });
    watch_ = store_->watch_new_work([this] { pipeline_->wake(); });
  }

  void TearDown() override {
    pipeline_->stop(1s);
    dispatcher_->stop();
    watch_.reset();
    pipeline_.reset();
    dispatcher_.reset();
    store_.reset();
    try {
      cluster().drop_schema(schema_);
    } catch (const std::exception&) {
    }
  }

  // The first column of `sql` on the server directly, {s} standing for the schema.
  std::string value(std::string sql) const {
    for (auto at = sql.find("{s}"); at != std::string::npos; at = sql.find("{s}"))
      sql.replace(at, 3, schema_);
    const auto rows = cluster().column(PostgresCluster::kSchemasDatabase, sql);
    return rows.empty() ? "(no row)" : rows[0];
  }

  int completions(const std::string& id) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count(completions_.begin(), completions_.end(), id));
  }

  std::string schema_ = cluster().create_schema();
  TcpProxy proxy_{cluster().port()};
  test_support::TempDir dir_;
  TestOrigin origin_;
  HttpReceiver receiver_{
      [](const ReceivedRequest&) { return test_support::http_response(200, "OK"); }};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blobs_;
  std::unique_ptr<webhook::Dispatcher> dispatcher_;
  std::unique_ptr<fetch::Fetcher> fetcher_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<store::WorkWatch> watch_;  // wakes pipeline_, so reset before it goes
  std::mutex mutex_;
  std::vector<std::string> completions_;
};

TEST_F(PostgresCommitCutPipeline, TheRequestCompletesOnceWithOneWebhook) {
  const auto names = photos(4);
  ASSERT_EQ(names.size(), 4u) << "too few photos in " << TestOrigin::photos_dir();
  core::NewRequest request;
  request.id = core::new_uuid();
  request.columns = {"S. No.", "Product Name", "Input Image Urls"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string url = origin_.url("/photos/" + names[i]);
    request.products.push_back({std::to_string(i + 1),
                                "P" + std::to_string(i),
                                {url},
                                {std::to_string(i + 1), "P" + std::to_string(i), url}});
  }
  request.webhook_url = receiver_.url("/hooks/imgbatch");
  request.fingerprint = "fingerprint-" + request.id;
  request.created_at = core::now_ms();
  ASSERT_EQ(store_->create_request(request).kind, core::CreateOutcome::Kind::created);
  const std::string& id = request.id;

  // The COMMIT of the transaction that queues the webhook: the one completing the request.
  proxy_.arm_cut("INSERT INTO deliveries", TcpProxy::postgres_commit_message());
  pipeline_->start();
  dispatcher_->start();

  ASSERT_TRUE(proxy_.wait_for_cut(60s)) << "the request was never completed through the proxy";
  ASSERT_TRUE(eventually([&] {
    return value("SELECT count(*) FROM {s}.deliveries WHERE delivered_at IS NOT NULL") == "1";
  })) << "the webhook was never delivered";
  // The batch the pipeline kept is recorded again (it retries every half second); once
  // nothing is in hand, nothing more can be recorded or completed.
  ASSERT_TRUE(eventually([&] { return pipeline_->in_hand() == 0; }));
  pipeline_->stop(1s);
  dispatcher_->stop();

  EXPECT_EQ(value("SELECT status || ' ' || succeeded || '/' || failed || '/' || total"
                  " FROM {s}.requests"),
            "completed 4/0/4");
  // Each image was processed once: no task ran a second time.
  EXPECT_EQ(value("SELECT string_agg(state || ':' || attempts, ',') FROM {s}.tasks"),
            "done:1,done:1,done:1,done:1");
  for (const auto& name : names) EXPECT_EQ(origin_.request_count("/photos/" + name), 1u) << name;
  EXPECT_EQ(value("SELECT count(*) FROM {s}.deliveries"), "1");
  const auto sent = receiver_.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].body.find(id), std::string::npos) << sent[0].body;
  EXPECT_NE(sent[0].body.find("\"completed\""), std::string::npos) << sent[0].body;
  // The completion is reported by the call that made it, at most once. Here that call's
  // answer was lost, and the retry finds the request already complete: no report, so the
  // dispatcher found the webhook by its own polling rather than being woken.
  EXPECT_LE(completions(id), 1);
}

}  // namespace
}  // namespace imgbatch
