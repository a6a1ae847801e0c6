#include "metrics/registry.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "metrics/text_format.hpp"
#include "support/exposition_parser.hpp"

namespace imgbatch::metrics {
namespace {

using test_support::parse_exposition;

test_support::Exposition parsed(const Registry& registry) {
  const auto text = registry.render();
  auto e = parse_exposition(text);
  EXPECT_TRUE(e.errors.empty()) << ::testing::PrintToString(e.errors) << "\n" << text;
  return e;
}

TEST(Registry, CountersAndGaugesRenderWithHelpAndTypeInRegistrationOrder) {
  Registry registry;
  auto& jobs = registry.counter("jobs_total", "Jobs done");
  auto& depth = registry.gauge("queue_depth", "Waiting jobs");
  jobs.inc();
  jobs.inc(41);
  depth.set(7);
  depth.add(-2);

  const auto text = registry.render();
  EXPECT_EQ(text,
            "# HELP jobs_total Jobs done\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 42\n"
            "# HELP queue_depth Waiting jobs\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 5\n");
  EXPECT_EQ(jobs.value(), 42u);
  EXPECT_EQ(depth.value(), 5);
}

TEST(Registry, LabelledCountersKeepOneSeriesPerValueAndEscapeValues) {
  Registry registry;
  auto& family = registry.counter_family("events_total", "Events", {"kind", "code"});
  family.with({"a", "200"}).inc();
  family.with({"a", "200"}).inc();  // the same child
  family.with({"b", "500"}).inc(3);
  const std::string awkward = "back\\slash \"quoted\"\nnext line";
  family.with({awkward, "0"}).inc();

  const auto e = parsed(registry);
  EXPECT_EQ(e.type.at("events_total"), "counter");
  EXPECT_EQ(e.value("events_total", {{"kind", "a"}, {"code", "200"}}), 2.0);
  EXPECT_EQ(e.value("events_total", {{"kind", "b"}, {"code", "500"}}), 3.0);
  EXPECT_EQ(e.value("events_total", {{"kind", awkward}, {"code", "0"}}), 1.0);
  EXPECT_EQ(e.all("events_total").size(), 3u);
  // The escaped form on the wire: one line per sample.
  EXPECT_NE(registry.render().find(R"(kind="back\\slash \"quoted\"\nnext line")"),
            std::string::npos);
}

TEST(Registry, HelpTextIsEscaped) {
  Registry registry;
  registry.counter("odd_total", "first line\nsecond \\ line");
  const auto text = registry.render();
  EXPECT_NE(text.find("# HELP odd_total first line\\nsecond \\\\ line\n"), std::string::npos)
      << text;
  EXPECT_EQ(parsed(registry).help.at("odd_total"), "first line\nsecond \\ line");
}

TEST(Registry, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto& h = registry.histogram("latency_seconds", "Latency", {0.1, 0.5, 1});
  for (double v : {0.05, 0.1, 0.3, 0.5, 0.7, 2.0, 100.0}) h.observe(v);

  const auto e = parsed(registry);
  EXPECT_EQ(e.type.at("latency_seconds"), "histogram");
  // A value equal to a bound falls in that bound's bucket (le = less or equal).
  EXPECT_EQ(e.value("latency_seconds_bucket", {{"le", "0.1"}}), 2.0);
  EXPECT_EQ(e.value("latency_seconds_bucket", {{"le", "0.5"}}), 4.0);
  EXPECT_EQ(e.value("latency_seconds_bucket", {{"le", "1"}}), 5.0);
  EXPECT_EQ(e.value("latency_seconds_bucket", {{"le", "+Inf"}}), 7.0);
  EXPECT_EQ(e.value("latency_seconds_count"), 7.0);
  EXPECT_NEAR(*e.value("latency_seconds_sum"), 103.65, 1e-9);

  const auto buckets = e.all("latency_seconds_bucket");
  ASSERT_EQ(buckets.size(), 4u);
  for (std::size_t i = 1; i < buckets.size(); ++i)
    EXPECT_LE(buckets[i - 1].value, buckets[i].value) << "buckets must be cumulative";
  EXPECT_EQ(buckets.back().labels.at("le"), "+Inf");
}

TEST(Registry, HistogramIgnoresNaNAndCountsInfinityInTheLastBucket) {
  Histogram h({1.0});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  h.observe(std::numeric_limits<double>::infinity());
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.cumulative.at(0), 0u);
  EXPECT_EQ(s.cumulative.at(1), 1u);
}

TEST(Registry, LabelledHistogramsPutLeAfterTheirLabels) {
  Registry registry;
  auto& family = registry.histogram_family("size_bytes", "Sizes", {"kind"}, {10, 100});
  family.with({"png"}).observe(50);
  const auto e = parsed(registry);
  EXPECT_EQ(e.value("size_bytes_bucket", {{"kind", "png"}, {"le", "10"}}), 0.0);
  EXPECT_EQ(e.value("size_bytes_bucket", {{"kind", "png"}, {"le", "100"}}), 1.0);
  EXPECT_EQ(e.value("size_bytes_bucket", {{"kind", "png"}, {"le", "+Inf"}}), 1.0);
  EXPECT_EQ(e.value("size_bytes_sum", {{"kind", "png"}}), 50.0);
  EXPECT_EQ(e.value("size_bytes_count", {{"kind", "png"}}), 1.0);
  EXPECT_NE(registry.render().find(R"(size_bytes_bucket{kind="png",le="100"} 1)"),
            std::string::npos);
}

TEST(Registry, CallbackGaugesAreReadAtRenderAndLeftOutWhenTheSourceFails) {
  Registry registry;
  double depth = 3;
  registry.gauge_callback("depth", "Depth", [&] { return std::optional<double>(depth); });
  registry.gauge_callback("absent", "Absent", [] { return std::optional<double>(); });
  registry.gauge_callback("broken", "Broken", []() -> std::optional<double> {
    throw std::runtime_error("database down");
  });
  auto e = parsed(registry);
  EXPECT_EQ(e.value("depth"), 3.0);
  depth = 12.5;
  e = parsed(registry);
  EXPECT_EQ(e.value("depth"), 12.5);
  EXPECT_TRUE(e.all("absent").empty());
  EXPECT_TRUE(e.all("broken").empty());
  EXPECT_EQ(e.type.at("broken"), "gauge");  // still declared
}

TEST(Registry, MistakesAreRejected) {
  Registry registry;
  registry.counter("ok_total", "fine");
  EXPECT_THROW(registry.counter("ok_total", "again"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("ok_total", "again, another type"), std::invalid_argument);
  EXPECT_THROW(registry.counter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter_family("l_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.counter_family("m_total", "x", {"has space"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram_family("h", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h2", "x", {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h3", "x", {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h4", "x", {1, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);
  auto& family = registry.counter_family("f_total", "x", {"a", "b"});
  EXPECT_THROW(family.with({"only one"}), std::invalid_argument);
  EXPECT_TRUE(parse_exposition(registry.render()).errors.empty());
}

TEST(Registry, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  auto& counter = registry.counter("c_total", "c");
  auto& family = registry.counter_family("f_total", "f", {"t"});
  auto& h = registry.histogram("h_seconds", "h", {0.5});
  constexpr int kThreads = 4;
  constexpr int kEach = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto& mine = family.with({t % 2 ? "odd" : "even"});
      for (int i = 0; i < kEach; ++i) {
        counter.inc();
        mine.inc();
        h.observe(i % 2 ? 1.0 : 0.25);
      }
    });
  // Rendering while others write must not tear a line or crash.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(parse_exposition(registry.render()).errors.empty());
  for (auto& t : threads) t.join();

  const auto e = parsed(registry);
  EXPECT_EQ(e.value("c_total"), kThreads * kEach);
  EXPECT_EQ(e.value("f_total", {{"t", "even"}}), kThreads / 2 * kEach);
  EXPECT_EQ(e.value("h_seconds_count"), kThreads * kEach);
  EXPECT_EQ(e.value("h_seconds_bucket", {{"le", "0.5"}}), kThreads * kEach / 2);
  EXPECT_DOUBLE_EQ(*e.value("h_seconds_sum"), kThreads * kEach / 2 * 1.25);
}

TEST(TextFormat, NumbersReadBackExactly) {
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1.0), "1");
  EXPECT_EQ(format_value(2.5e-7), "2.5e-07");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_value(std::uint64_t{18446744073709551615ULL}), "18446744073709551615");
  EXPECT_EQ(format_value(std::int64_t{-3}), "-3");
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::strtod(format_value(third).c_str(), nullptr), third);
}

TEST(TextFormat, NamesAreChecked) {
  EXPECT_TRUE(is_valid_metric_name("imgbatch_uploads_total"));
  EXPECT_TRUE(is_valid_metric_name("ns:sub_metric"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("9lives"));
  EXPECT_FALSE(is_valid_metric_name("dash-ed"));
  EXPECT_TRUE(is_valid_label_name("reason"));
  EXPECT_FALSE(is_valid_label_name("with:colon"));
  EXPECT_FALSE(is_valid_label_name("__name__"));
  EXPECT_EQ(label_set({}, {}), "");
  EXPECT_EQ(label_set({"a", "b"}, {"x", "y\"z"}), R"({a="x",b="y\"z"})");
}

TEST(TextFormat, ExponentialBuckets) {
  EXPECT_EQ(exponential_buckets(0.01, 10, 3), (std::vector<double>{0.01, 0.1, 1.0}));
  EXPECT_THROW(exponential_buckets(0, 2, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1, 1, 3), std::invalid_argument);
}

}  // namespace
}  // namespace imgbatch::metrics
