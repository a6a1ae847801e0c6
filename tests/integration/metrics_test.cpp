// GET /metrics after real work: the HTTP server, the pipeline (curl fetcher against the
// local test origin, libvips, SQLite, file storage) and the webhook dispatcher, assembled
// as `imgbatch serve` does, all counting into one ServiceMetrics. The scrape is read back
// with a parser of the text format, so a malformed line fails the test as it would fail
// a Prometheus scrape.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "fetch/fetcher.hpp"
#include "http/server.hpp"
#include "imaging/compressor.hpp"
#include "metrics/service_metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "store/store.hpp"
#include "support/blob_options.hpp"
#include "support/exposition_parser.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_origin.hpp"
#include "webhook/dispatcher.hpp"

namespace imgbatch {
namespace {

using namespace std::chrono_literals;
using test_support::Exposition;
using test_support::HttpClient;
using test_support::TestOrigin;

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::string first_photo() {
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    if (entry.path().extension() == ".jpg") return entry.path().filename().string();
  return {};
}

// One process: server, workers and dispatcher on one store, as service.cpp assembles them.
class MetricsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { imaging::init_vips("metrics_test"); }

  void SetUp() override {
    config_.listen = "127.0.0.1:0";
    store_ = store::open_store("sqlite:" + (dir_ / "imgbatch.db"));
    blob_ = blob::open_blob_store("file:" + (dir_ / "images"), test_support::blob_options(false));

    webhook::DispatcherOptions dispatch;
    dispatch.allow_private_networks = true;  // the receiver is this server, on loopback
    dispatch.idle_poll = 50ms;
    dispatch.metrics = &metrics_;
    dispatcher_ = std::make_unique<webhook::Dispatcher>(dispatch, *store_);

    fetch::FetchLimits limits;
    limits.allow_private_networks = true;  // the origin is on loopback
    limits.timeout_ms = 20'000;
    fetcher_ = fetch::make_curl_fetcher(limits, 4);
    pipeline::Options options;
    options.compress_threads = 1;
    options.idle_poll = 50ms;
    options.metrics = &metrics_;
    pipeline_ = std::make_unique<pipeline::Pipeline>(
        options, *store_, *blob_, *fetcher_,
        [this](const std::vector<std::string>&) { dispatcher_->wake(); });
    metrics_.set_task_sources(
        [this]() -> std::optional<double> {
          return static_cast<double>(store_->queue_depth().pending);
        },
        [this]() -> std::optional<double> { return static_cast<double>(pipeline_->in_hand()); });

    watch_ = store_->watch_new_work([this] { pipeline_->wake(); });
    http::ServerOptions server_options;
    server_options.metrics = &metrics_;
    server_ = std::make_unique<http::Server>(config_, *store_, *blob_, server_options);
    server_->start();
    client_ = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
    pipeline_->start();
    dispatcher_->start();
  }

  void TearDown() override {
    server_->stop();
    pipeline_->stop(1s);
    dispatcher_->stop();
  }

  Exposition scrape() {
    const auto r = client_->get("/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
    auto e = test_support::parse_exposition(r.body);
    EXPECT_TRUE(e.errors.empty()) << ::testing::PrintToString(e.errors) << "\n" << r.body;
    return e;
  }

  double value(const Exposition& e, const std::string& name,
               const std::map<std::string, std::string>& labels = {}) {
    const auto v = e.value(name, labels);
    EXPECT_TRUE(v.has_value()) << name << " " << ::testing::PrintToString(labels);
    return v.value_or(-1);
  }

  test_support::TempDir dir_;
  core::Config config_;
  metrics::Registry registry_;
  metrics::ServiceMetrics metrics_{registry_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blob_;
  std::unique_ptr<webhook::Dispatcher> dispatcher_;
  std::unique_ptr<fetch::Fetcher> fetcher_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<store::WorkWatch> watch_;  // wakes pipeline_, so destroyed before it
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<HttpClient> client_;
  TestOrigin origin_;
};

TEST_F(MetricsTest, AScrapeBeforeAnyWorkListsEveryMetricAtZero) {
  const auto e = scrape();
  EXPECT_EQ(value(e, "imgbatch_uploads_total", {{"outcome", "accepted"}}), 0);
  EXPECT_EQ(value(e, "imgbatch_images_total", {{"outcome", "succeeded"}}), 0);
  EXPECT_EQ(value(e, "imgbatch_download_seconds_count"), 0);
  EXPECT_EQ(value(e, "imgbatch_tasks_queued"), 0);
  EXPECT_EQ(value(e, "imgbatch_tasks_in_flight"), 0);
}

TEST_F(MetricsTest, OneGoodAndOneFailingImageAreCountedWithTheirReasonBytesAndTimes) {
  const auto photo = first_photo();
  ASSERT_FALSE(photo.empty());
  const std::string csv = "S. No.,Product Name,Input Image Urls\n1,Good," +
                          origin_.url("/photos/" + photo) + "\n2,Missing," +
                          origin_.url("/status/404") + "\n";
  const auto webhook = client_->base_url() + "/webhook";
  const auto upload = client_->post_form(
      "/upload", {{"file", csv, "products.csv", "text/csv"}, {"webhook_url", webhook, {}, ""}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const std::string id = upload.json().value("request_id", "");

  ASSERT_TRUE(eventually([&] {
    const auto r = client_->get("/status?request_id=" + id);
    return r.status == 200 && r.json()["status"] == "completed";
  })) << client_->get("/status?request_id=" + id).body;
  ASSERT_TRUE(eventually([&] {
    return metrics_.webhook_deliveries(metrics::WebhookOutcome::delivered).value() == 1;
  })) << "the completion webhook was not delivered";
  client_->get("/no/such/endpoint");

  const auto e = scrape();
  EXPECT_EQ(value(e, "imgbatch_uploads_total", {{"outcome", "accepted"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_uploads_total", {{"outcome", "rejected"}}), 0);
  EXPECT_EQ(value(e, "imgbatch_images_total", {{"outcome", "succeeded"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_images_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_image_failures_total", {{"reason", "download_http_status"}}), 1);
  double all_failures = 0;
  for (const auto& s : e.all("imgbatch_image_failures_total")) all_failures += s.value;
  EXPECT_EQ(all_failures, 1) << "one failure, under one reason";
  EXPECT_EQ(value(e, "imgbatch_image_retries_total"), 0);

  const auto photo_bytes = std::filesystem::file_size(TestOrigin::photos_dir() / photo);
  EXPECT_EQ(value(e, "imgbatch_bytes_in_total"), static_cast<double>(photo_bytes));
  const auto stored = store_->get_products(id, 0, 1).at(0).images.at(0);
  EXPECT_GT(stored.bytes_out, 0);
  EXPECT_EQ(value(e, "imgbatch_bytes_out_total"), static_cast<double>(stored.bytes_out));

  // One download per image (no retries), one processing (the 404 never reached libvips).
  EXPECT_EQ(origin_.total_requests(), 2u);
  EXPECT_EQ(value(e, "imgbatch_download_seconds_count"), 2);
  EXPECT_EQ(value(e, "imgbatch_download_seconds_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_GT(value(e, "imgbatch_download_seconds_sum"), 0);
  EXPECT_EQ(value(e, "imgbatch_processing_seconds_count"), 1);
  EXPECT_GT(value(e, "imgbatch_processing_seconds_sum"), 0);
  const auto buckets = e.all("imgbatch_processing_seconds_bucket");
  ASSERT_FALSE(buckets.empty());
  for (std::size_t i = 1; i < buckets.size(); ++i)
    EXPECT_LE(buckets[i - 1].value, buckets[i].value) << "cumulative";

  EXPECT_EQ(value(e, "imgbatch_tasks_queued"), 0);
  EXPECT_EQ(value(e, "imgbatch_tasks_in_flight"), 0);
  EXPECT_EQ(value(e, "imgbatch_webhook_deliveries_total", {{"outcome", "delivered"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_webhook_deliveries_total", {{"outcome", "gave_up"}}), 0);

  EXPECT_EQ(value(e, "imgbatch_http_requests_total", {{"route", "/upload"}, {"code", "202"}}), 1);
  EXPECT_GE(value(e, "imgbatch_http_requests_total", {{"route", "/status"}, {"code", "200"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_http_requests_total", {{"route", "/webhook"}, {"code", "200"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_http_requests_total", {{"route", "unmatched"}, {"code", "404"}}), 1);
  for (const auto& s : e.all("imgbatch_http_requests_total"))
    EXPECT_EQ(s.labels.at("route").find(id), std::string::npos) << "no ids in labels";
}

TEST_F(MetricsTest, RejectedAndReplayedUploadsAreCountedApart) {
  const std::string csv =
      "S. No.,Product Name,Input Image Urls\n1,A," + origin_.url("/status/404") + "\n";
  const test_support::Headers key = {{"Idempotency-Key", "metrics-test-key"}};
  ASSERT_EQ(client_->post_form("/upload", {{"file", csv, "p.csv", "text/csv"}}, key).status, 202);
  ASSERT_EQ(client_->post_form("/upload", {{"file", csv, "p.csv", "text/csv"}}, key).status, 202);
  EXPECT_EQ(client_->post_form("/upload", {{"file", "not,a\ncsv", "p.csv", "text/csv"}}).status,
            400);
  EXPECT_EQ(client_->post("/upload", "x", "text/plain").status, 415);
  // Refused on its Content-Length alone, before the body (and before any route) is read.
  EXPECT_EQ(client_->request("POST", "/upload", "x", {{"Content-Length", "999999999999"}}).status,
            413);

  const auto e = scrape();
  EXPECT_EQ(value(e, "imgbatch_uploads_total", {{"outcome", "accepted"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_uploads_total", {{"outcome", "replayed"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_uploads_total", {{"outcome", "rejected"}}), 2);
  EXPECT_EQ(value(e, "imgbatch_http_requests_total", {{"route", "/upload"}, {"code", "400"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_http_requests_total", {{"route", "/upload"}, {"code", "415"}}), 1);
  EXPECT_EQ(value(e, "imgbatch_http_requests_total", {{"route", "before_body"}, {"code", "413"}}),
            1);
}

}  // namespace
}  // namespace imgbatch
