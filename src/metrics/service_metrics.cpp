#include "metrics/service_metrics.hpp"

#include <string>

namespace imgbatch::metrics {

std::string_view to_string(FailureReason reason) {
  switch (reason) {
    case FailureReason::download_http_status:
      return "download_http_status";
    case FailureReason::download_timeout:
      return "download_timeout";
    case FailureReason::download_connection:
      return "download_connection";
    case FailureReason::bad_url:
      return "bad_url";
    case FailureReason::blocked_address:
      return "blocked_address";
    case FailureReason::too_large:
      return "too_large";
    case FailureReason::not_an_image:
      return "not_an_image";
    case FailureReason::too_many_pixels:
      return "too_many_pixels";
    case FailureReason::corrupt_image:
      return "corrupt_image";
    case FailureReason::cannot_convert:
      return "cannot_convert";
    case FailureReason::storage:
      return "storage";
    case FailureReason::other:
      return "other";
  }
  return "other";
}

std::string_view to_string(UploadOutcome outcome) {
  switch (outcome) {
    case UploadOutcome::accepted:
      return "accepted";
    case UploadOutcome::rejected:
      return "rejected";
    case UploadOutcome::replayed:
      return "replayed";
  }
  return "rejected";
}

std::string_view to_string(WebhookOutcome outcome) {
  switch (outcome) {
    case WebhookOutcome::delivered:
      return "delivered";
    case WebhookOutcome::retrying:
      return "retrying";
    case WebhookOutcome::gave_up:
      return "gave_up";
  }
  return "gave_up";
}

ServiceMetrics::ServiceMetrics(Registry& registry) : registry_(registry) {
  // Every label value is created here, so each series exists (at 0) from the first scrape.
  auto& uploads = registry.counter_family(
      "imgbatch_uploads_total",
      "POST /upload answers: accepted (a new request), replayed (an Idempotency-Key repeat), "
      "rejected (any error answer)",
      {"outcome"});
  for (std::size_t i = 0; i < kUploadOutcomeCount; ++i)
    uploads_[i] = &uploads.with({to_string(static_cast<UploadOutcome>(i))});

  auto& images = registry.counter_family(
      "imgbatch_images_total", "Images that ended in this process, by outcome", {"outcome"});
  images_succeeded_ = &images.with({"succeeded"});
  images_failed_ = &images.with({"failed"});

  auto& failures =
      registry.counter_family("imgbatch_image_failures_total",
                              "Images that failed for good, by class of reason", {"reason"});
  for (std::size_t i = 0; i < kFailureReasonCount; ++i)
    failures_[i] = &failures.with({to_string(static_cast<FailureReason>(i))});

  image_retries_ =
      &registry.counter("imgbatch_image_retries_total",
                        "Retries scheduled after a transient failure (a download error, a 5xx)");
  storage_write_failures_ = &registry.counter(
      "imgbatch_storage_write_failures_total",
      "Image writes the storage refused or did not answer; each is tried again, its image "
      "held, until the storage takes it");
  bytes_in_ = &registry.counter("imgbatch_bytes_in_total", "Bytes of images downloaded");
  bytes_out_ = &registry.counter("imgbatch_bytes_out_total", "Bytes of images stored");
  download_seconds_ =
      &registry.histogram("imgbatch_download_seconds",
                          "Time of each download attempt, failed ones included", kDownloadBuckets);
  processing_seconds_ = &registry.histogram(
      "imgbatch_processing_seconds",
      "Time to decode, convert, encode and store one downloaded image", kProcessingBuckets);
  registry.gauge_callback(
      "imgbatch_tasks_queued",
      "Image tasks waiting in the database for a worker (all processes), retries included",
      [this] { return read(queued_); });
  registry.gauge_callback("imgbatch_tasks_in_flight",
                          "Image tasks this process holds: downloading, waiting or compressing",
                          [this] { return read(in_flight_); });

  auto& webhooks = registry.counter_family(
      "imgbatch_webhook_deliveries_total",
      "Webhook delivery attempts: delivered, retrying (failed, tried again later), gave_up",
      {"outcome"});
  for (std::size_t i = 0; i < kWebhookOutcomeCount; ++i)
    webhooks_[i] = &webhooks.with({to_string(static_cast<WebhookOutcome>(i))});

  http_requests_ = &registry.counter_family("imgbatch_http_requests_total",
                                            "HTTP requests answered, by route and status code",
                                            {"route", "code"});
}

void ServiceMetrics::set_task_sources(Source queued, Source in_flight) {
  std::lock_guard lock(sources_mutex_);
  queued_ = std::move(queued);
  in_flight_ = std::move(in_flight);
}

std::optional<double> ServiceMetrics::read(const Source& source) const {
  Source copy;
  {
    std::lock_guard lock(sources_mutex_);
    copy = source;
  }
  return copy ? copy() : std::optional<double>(0.0);
}

}  // namespace imgbatch::metrics
