// A small Prometheus client: counters, gauges and histograms with fixed buckets, with or
// without labels, kept in a Registry that renders them in the text exposition format
// 0.0.4 (what GET /metrics serves). Updating a metric is a relaxed atomic operation and
// never takes a lock, so the hot path pays nothing measurable; the lock is taken only to
// register a metric, to find a labelled child (resolve those once and keep the reference)
// and to render. Metrics live as long as the registry and never move, so references to
// them stay valid. Mistakes in names or label counts are bugs: they throw
// std::invalid_argument.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbatch::metrics {

// Only goes up; reset when the process starts (Prometheus handles the reset).
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Counts observations per bucket of fixed upper bounds (inclusive, as Prometheus' `le`)
// plus one for everything above, and sums them. A scrape may see an observation in the
// buckets a moment before it is in the sum; Prometheus clients accept the same.
class Histogram {
 public:
  // `bounds`: finite and strictly increasing; the +Inf bucket is implied.
  explicit Histogram(std::vector<double> bounds);

  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

enum class MetricType { counter, gauge, histogram };
std::string_view to_string(MetricType type);

// One metric name with its HELP and TYPE; renders its samples.
class Family {
 public:
  Family(std::string name, std::string help, MetricType type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}
  virtual ~Family() = default;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  // Appends the sample lines (not HELP and TYPE).
  virtual void write_samples(std::string& out) const = 0;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
};

// A metric with labels: one child per combination of label values. Keep label values to
// a small fixed set (a status code, a reason class), never ids or URLs: each combination
// is a time series forever.
template <class T>
class LabelledFamily final : public Family {
 public:
  LabelledFamily(std::string name, std::string help, MetricType type,
                 std::vector<std::string> label_names, std::vector<double> bounds = {});

  // The child for these values, in the order of the label names; created at first use.
  T& with(const std::vector<std::string>& values);
  T& with(std::initializer_list<std::string_view> values) {
    return with(std::vector<std::string>(values.begin(), values.end()));
  }
  const std::vector<std::string>& label_names() const { return label_names_; }
  void write_samples(std::string& out) const override;

 private:
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;  // rendered in this order
};

using CounterFamily = LabelledFamily<Counter>;
using GaugeFamily = LabelledFamily<Gauge>;
using HistogramFamily = LabelledFamily<Histogram>;

// The metrics of a process, rendered in registration order.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string name, std::string help);
  CounterFamily& counter_family(std::string name, std::string help,
                                std::vector<std::string> label_names);
  Gauge& gauge(std::string name, std::string help);
  // A gauge whose value is read when rendering (a queue length kept elsewhere). nullopt
  // (or an exception) leaves the sample out of that scrape, so a failing source shows as
  // absent rather than as 0.
  void gauge_callback(std::string name, std::string help,
                      std::function<std::optional<double>()> read);
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);
  HistogramFamily& histogram_family(std::string name, std::string help,
                                    std::vector<std::string> label_names,
                                    std::vector<double> bounds);

  // The text exposition format 0.0.4: for each metric "# HELP", "# TYPE", then its samples.
  std::string render() const;

 private:
  template <class F>
  F& add(std::unique_ptr<F> family);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;
};

// The Content-Type of render()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Buckets: `count` bounds starting at `start`, each `factor` times the previous.
std::vector<double> exponential_buckets(double start, double factor, int count);

}  // namespace imgbatch::metrics
