#include "metrics/service_metrics.hpp"

#include <gtest/gtest.h>

#include <set>

#include "support/exposition_parser.hpp"

namespace imgbatch::metrics {
namespace {

using test_support::parse_exposition;

TEST(ServiceMetrics, EverySeriesExistsAtZeroFromTheStart) {
  Registry registry;
  ServiceMetrics metrics(registry);
  const auto text = registry.render();
  const auto e = parse_exposition(text);
  ASSERT_TRUE(e.errors.empty()) << ::testing::PrintToString(e.errors) << "\n" << text;

  for (const char* outcome : {"accepted", "rejected", "replayed"})
    EXPECT_EQ(e.value("imgbatch_uploads_total", {{"outcome", outcome}}), 0.0) << outcome;
  for (const char* outcome : {"succeeded", "failed"})
    EXPECT_EQ(e.value("imgbatch_images_total", {{"outcome", outcome}}), 0.0) << outcome;
  const auto failures = e.all("imgbatch_image_failures_total");
  EXPECT_EQ(failures.size(), kFailureReasonCount);
  std::set<std::string> reasons;
  for (const auto& s : failures) reasons.insert(s.labels.at("reason"));
  EXPECT_EQ(reasons.size(), kFailureReasonCount) << "every reason has its own label value";
  EXPECT_TRUE(reasons.count("download_http_status"));
  EXPECT_TRUE(reasons.count("other"));
  for (const char* name :
       {"imgbatch_image_retries_total", "imgbatch_storage_write_failures_total",
        "imgbatch_bytes_in_total", "imgbatch_bytes_out_total", "imgbatch_download_seconds_count",
        "imgbatch_processing_seconds_count", "imgbatch_tasks_queued", "imgbatch_tasks_in_flight"})
    EXPECT_EQ(e.value(name), 0.0) << name;
  for (const char* outcome : {"delivered", "retrying", "gave_up"})
    EXPECT_EQ(e.value("imgbatch_webhook_deliveries_total", {{"outcome", outcome}}), 0.0);
  EXPECT_EQ(e.type.at("imgbatch_http_requests_total"), "counter");
  EXPECT_EQ(e.type.at("imgbatch_download_seconds"), "histogram");
  EXPECT_EQ(e.type.at("imgbatch_tasks_queued"), "gauge");
  for (const auto& [name, type] : e.type) {
    EXPECT_TRUE(name.starts_with("imgbatch_")) << name;
    EXPECT_FALSE(e.help.at(name).empty()) << name;
  }
}

TEST(ServiceMetrics, HandlesUpdateTheirSeries) {
  Registry registry;
  ServiceMetrics metrics(registry);
  metrics.uploads(UploadOutcome::replayed).inc();
  metrics.images_failed().inc();
  metrics.image_failures(FailureReason::too_many_pixels).inc(2);
  metrics.bytes_in().inc(1000);
  metrics.download_seconds().observe(0.2);
  metrics.webhook_deliveries(WebhookOutcome::gave_up).inc();
  metrics.http_requests().with({"/status", "200"}).inc();

  const auto e = parse_exposition(registry.render());
  ASSERT_TRUE(e.errors.empty());
  EXPECT_EQ(e.value("imgbatch_uploads_total", {{"outcome", "replayed"}}), 1.0);
  EXPECT_EQ(e.value("imgbatch_uploads_total", {{"outcome", "accepted"}}), 0.0);
  EXPECT_EQ(e.value("imgbatch_images_total", {{"outcome", "failed"}}), 1.0);
  EXPECT_EQ(e.value("imgbatch_image_failures_total", {{"reason", "too_many_pixels"}}), 2.0);
  EXPECT_EQ(e.value("imgbatch_image_failures_total", {{"reason", "not_an_image"}}), 0.0);
  EXPECT_EQ(e.value("imgbatch_bytes_in_total"), 1000.0);
  EXPECT_EQ(e.value("imgbatch_download_seconds_bucket", {{"le", "0.25"}}), 1.0);
  EXPECT_EQ(e.value("imgbatch_download_seconds_bucket", {{"le", "0.1"}}), 0.0);
  EXPECT_EQ(e.value("imgbatch_webhook_deliveries_total", {{"outcome", "gave_up"}}), 1.0);
  EXPECT_EQ(e.value("imgbatch_http_requests_total", {{"route", "/status"}, {"code", "200"}}), 1.0);
}

TEST(ServiceMetrics, TaskGaugesReadTheirSources) {
  Registry registry;
  ServiceMetrics metrics(registry);
  int queued = 17;
  metrics.set_task_sources([&] { return std::optional<double>(queued); },
                           [] { return std::optional<double>(); });
  auto e = parse_exposition(registry.render());
  EXPECT_EQ(e.value("imgbatch_tasks_queued"), 17.0);
  EXPECT_TRUE(e.all("imgbatch_tasks_in_flight").empty()) << "an unreadable source is left out";
  queued = 4;
  e = parse_exposition(registry.render());
  EXPECT_EQ(e.value("imgbatch_tasks_queued"), 4.0);
}

TEST(ServiceMetrics, ReasonNamesAreDistinctLabelValues) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kFailureReasonCount; ++i)
    names.insert(to_string(static_cast<FailureReason>(i)));
  EXPECT_EQ(names.size(), kFailureReasonCount);
  EXPECT_EQ(to_string(FailureReason::other), "other");
}

}  // namespace
}  // namespace imgbatch::metrics
