#include "worker_setup.hpp"

#include <chrono>
#include <utility>

namespace imgbatch {

std::unique_ptr<fetch::Fetcher> make_fetcher(const core::Config& config) {
  fetch::FetchLimits limits;
  limits.timeout_ms = config.download_timeout_seconds * 1000L;
  limits.max_bytes = config.max_image_bytes;
  limits.allow_private_networks = config.allow_private_networks;
  return fetch::make_curl_fetcher(limits, config.download_concurrency);
}

pipeline::Options pipeline_options(const core::Config& config) {
  pipeline::Options options;
  options.compress_threads = config.workers;
  options.compress_nice = config.compress_nice;
  options.download_concurrency = config.download_concurrency;
  options.max_attempts = config.max_attempts;
  options.lease = std::chrono::seconds(config.lease_seconds);
  options.max_pixels = config.max_pixels;
  return options;
}

Workers::Workers(const core::Config& config, pipeline::Options options, store::Store& store,
                 blob::BlobStore& blobs, pipeline::Pipeline::CompletionListener on_completed)
    : fetcher_(make_fetcher(config)),
      pipeline_(std::move(options), store, blobs, *fetcher_, std::move(on_completed)),
      work_watch_(store.watch_new_work([this] { pipeline_.wake(); })) {}

}  // namespace imgbatch
