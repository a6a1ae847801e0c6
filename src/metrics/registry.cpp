#include "metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "text_format.hpp"

namespace imgbatch::metrics {

namespace {

void check_bounds(const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]))
      throw std::invalid_argument("histogram bucket bounds must be finite (+Inf is implied)");
    if (i > 0 && !(bounds[i - 1] < bounds[i]))
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
  }
}

void write_sample(std::string& out, const std::string& name, const std::string& labels,
                  const std::string& value) {
  out += name;
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

void write_child(std::string& out, const std::string& name, const std::string& labels,
                 const Counter& counter) {
  write_sample(out, name, labels, format_value(counter.value()));
}

void write_child(std::string& out, const std::string& name, const std::string& labels,
                 const Gauge& gauge) {
  write_sample(out, name, labels, format_value(gauge.value()));
}

// `names`/`values` are the family's labels; each bucket adds `le`.
void write_histogram(std::string& out, const std::string& name, std::vector<std::string> names,
                     std::vector<std::string> values, const Histogram& histogram) {
  const auto labels = label_set(names, values);
  const auto snapshot = histogram.snapshot();
  names.emplace_back("le");
  values.emplace_back();
  const auto& bounds = histogram.bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    values.back() = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    write_sample(out, name + "_bucket", label_set(names, values),
                 format_value(snapshot.cumulative[i]));
  }
  write_sample(out, name + "_sum", labels, format_value(snapshot.sum));
  write_sample(out, name + "_count", labels, format_value(snapshot.count));
}

// A gauge read from elsewhere at each render.
class CallbackGauge final : public Family {
 public:
  CallbackGauge(std::string name, std::string help, std::function<std::optional<double>()> read)
      : Family(std::move(name), std::move(help), MetricType::gauge), read_(std::move(read)) {}

  void write_samples(std::string& out) const override {
    std::optional<double> value;
    try {
      value = read_();
    } catch (const std::exception&) {
      value.reset();
    }
    if (value) write_sample(out, name(), "", format_value(*value));
  }

 private:
  std::function<std::optional<double>()> read_;
};

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 MetricType type) {
  if (!is_valid_metric_name(name))
    throw std::invalid_argument("invalid metric name '" + name + "'");
  const auto invalid = std::find_if(label_names.begin(), label_names.end(),
                                    [](const std::string& l) { return !is_valid_label_name(l); });
  if (invalid != label_names.end())
    throw std::invalid_argument("invalid label name '" + *invalid + "' for " + name);
  if (type == MetricType::histogram &&
      std::find(label_names.begin(), label_names.end(), "le") != label_names.end())
    throw std::invalid_argument("the label 'le' is reserved for histogram buckets (" + name + ")");
}

}  // namespace

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

// --- Histogram ------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  check_bounds(bounds_);
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;  // would make the sum NaN for good
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1)
    throw std::invalid_argument("exponential_buckets needs start > 0, factor > 1, count >= 1");
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

// --- LabelledFamily -------------------------------------------------------------------

template <class T>
LabelledFamily<T>::LabelledFamily(std::string name, std::string help, MetricType type,
                                  std::vector<std::string> label_names, std::vector<double> bounds)
    : Family(std::move(name), std::move(help), type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
  check_names(this->name(), label_names_, type);
  if constexpr (std::is_same_v<T, Histogram>) check_bounds(bounds_);
}

template <class T>
T& LabelledFamily<T>::with(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(name() + " has " + std::to_string(label_names_.size()) +
                                " label(s), given " + std::to_string(values.size()) + " value(s)");
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) {
    if constexpr (std::is_same_v<T, Histogram>)
      child = std::make_unique<Histogram>(bounds_);
    else
      child = std::make_unique<T>();
  }
  return *child;
}

template <class T>
void LabelledFamily<T>::write_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Histogram>)
      write_histogram(out, name(), label_names_, values, *child);
    else
      write_child(out, name(), label_set(label_names_, values), *child);
  }
}

template class LabelledFamily<Counter>;
template class LabelledFamily<Gauge>;
template class LabelledFamily<Histogram>;

// --- Registry -------------------------------------------------------------------------

template <class F>
F& Registry::add(std::unique_ptr<F> family) {
  std::lock_guard lock(mutex_);
  for (const auto& existing : families_)
    if (existing->name() == family->name())
      throw std::invalid_argument("metric " + family->name() + " is registered twice");
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Counter& Registry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help), {}).with(std::vector<std::string>{});
}

CounterFamily& Registry::counter_family(std::string name, std::string help,
                                        std::vector<std::string> label_names) {
  return add(std::make_unique<CounterFamily>(std::move(name), std::move(help), MetricType::counter,
                                             std::move(label_names)));
}

Gauge& Registry::gauge(std::string name, std::string help) {
  return add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::gauge,
                                           std::vector<std::string>{}))
      .with(std::vector<std::string>{});
}

void Registry::gauge_callback(std::string name, std::string help,
                              std::function<std::optional<double>()> read) {
  check_names(name, {}, MetricType::gauge);
  add(std::make_unique<CallbackGauge>(std::move(name), std::move(help), std::move(read)));
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  return histogram_family(std::move(name), std::move(help), {}, std::move(bounds))
      .with(std::vector<std::string>{});
}

HistogramFamily& Registry::histogram_family(std::string name, std::string help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> bounds) {
  return add(std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                               MetricType::histogram, std::move(label_names),
                                               std::move(bounds)));
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) {
    out += "# HELP ";
    out += family->name();
    out += ' ';
    out += escape_help(family->help());
    out += "\n# TYPE ";
    out += family->name();
    out += ' ';
    out += to_string(family->type());
    out += '\n';
    family->write_samples(out);
  }
  return out;
}

}  // namespace imgbatch::metrics
