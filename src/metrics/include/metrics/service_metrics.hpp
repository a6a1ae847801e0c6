// The metrics of an imgbatch process, all named `imgbatch_…` and registered at once, so
// a scrape lists every one of them from the start (a process without workers shows the
// worker metrics at 0). Each part of the process updates its own: the HTTP routes count
// uploads and requests, the pipeline counts images, bytes, retries and failure reasons and
// times downloads and processing, the webhook dispatcher counts deliveries. The task
// gauges are read at scrape time from sources the service sets. docs/operations.md lists
// the metrics; keep it in step.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "metrics/registry.hpp"

namespace imgbatch::metrics {

// Why an image failed, as a label: a small fixed set, so the metric stays cheap however
// many distinct messages there are.
enum class FailureReason {
  download_http_status,  // the host answered with an error status
  download_timeout,      // too slow, timed out, DNS or connect timeout
  download_connection,   // DNS failure, connection refused or reset, TLS, cut short
  bad_url,               // unsupported scheme, malformed URL, too many redirects
  blocked_address,       // a private or loopback address, refused
  too_large,             // more bytes than --max-image-bytes
  not_an_image,          // not an image, or a format that is not accepted
  too_many_pixels,       // more than --max-pixels
  corrupt_image,         // truncated or corrupt data
  cannot_convert,        // a decodable image that could not be converted or encoded
  storage,               // the storage refused this image's output (too large, bad checksum)
  other,
};
inline constexpr std::size_t kFailureReasonCount = 12;
std::string_view to_string(FailureReason reason);

enum class UploadOutcome { accepted, rejected, replayed };
inline constexpr std::size_t kUploadOutcomeCount = 3;
std::string_view to_string(UploadOutcome outcome);

// delivered: a 2xx; retrying: failed, another attempt is scheduled; gave_up: failed for good.
enum class WebhookOutcome { delivered, retrying, gave_up };
inline constexpr std::size_t kWebhookOutcomeCount = 3;
std::string_view to_string(WebhookOutcome outcome);

// Bucket bounds, in seconds.
inline const std::vector<double> kDownloadBuckets = {0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                     2.5,   5,    10,  30,   60};
inline const std::vector<double> kProcessingBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1,    2.5,   5,    10};

class ServiceMetrics {
 public:
  // Registers every imgbatch_ metric in `registry`, which must outlive this object and
  // hold no imgbatch_ metric yet.
  explicit ServiceMetrics(Registry& registry);
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  Registry& registry() { return registry_; }

  Counter& uploads(UploadOutcome outcome) { return *uploads_[static_cast<std::size_t>(outcome)]; }
  Counter& images_succeeded() { return *images_succeeded_; }
  Counter& images_failed() { return *images_failed_; }
  Counter& image_failures(FailureReason reason) {
    return *failures_[static_cast<std::size_t>(reason)];
  }
  Counter& image_retries() { return *image_retries_; }
  Counter& storage_write_failures() { return *storage_write_failures_; }
  Counter& bytes_in() { return *bytes_in_; }
  Counter& bytes_out() { return *bytes_out_; }
  Histogram& download_seconds() { return *download_seconds_; }
  Histogram& processing_seconds() { return *processing_seconds_; }
  Counter& webhook_deliveries(WebhookOutcome outcome) {
    return *webhooks_[static_cast<std::size_t>(outcome)];
  }
  // Labels: route (the route's pattern, e.g. "/images/:id/:name"; "unmatched" for no
  // route; "before_body" for a 413/417 sent before the body was read) and code.
  // Resolving a child takes a lock: fine per HTTP request, not per image.
  CounterFamily& http_requests() { return *http_requests_; }

  // Where imgbatch_tasks_queued and imgbatch_tasks_in_flight come from; without a source
  // they read 0. A source returning nullopt leaves the sample out of that scrape.
  using Source = std::function<std::optional<double>()>;
  void set_task_sources(Source queued, Source in_flight);

 private:
  std::optional<double> read(const Source& source) const;

  Registry& registry_;
  std::array<Counter*, kUploadOutcomeCount> uploads_{};
  Counter* images_succeeded_ = nullptr;
  Counter* images_failed_ = nullptr;
  std::array<Counter*, kFailureReasonCount> failures_{};
  Counter* image_retries_ = nullptr;
  Counter* storage_write_failures_ = nullptr;
  Counter* bytes_in_ = nullptr;
  Counter* bytes_out_ = nullptr;
  Histogram* download_seconds_ = nullptr;
  Histogram* processing_seconds_ = nullptr;
  std::array<Counter*, kWebhookOutcomeCount> webhooks_{};
  CounterFamily* http_requests_ = nullptr;

  mutable std::mutex sources_mutex_;
  Source queued_;
  Source in_flight_;
};

}  // namespace imgbatch::metrics
