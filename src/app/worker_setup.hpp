// What `serve`, `worker` and `process` build the same way from their options: the
// downloader, the pipeline's settings, and the workers made of them. One place, so a new
// option reaches all three.
#pragma once

#include <memory>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "fetch/fetcher.hpp"
#include "pipeline/pipeline.hpp"
#include "store/store.hpp"

namespace imgbatch {

std::unique_ptr<fetch::Fetcher> make_fetcher(const core::Config& config);

// Pipeline settings from the options; callers add what is theirs (metrics, idle poll).
pipeline::Options pipeline_options(const core::Config& config);

// A pipeline with what is its own: the downloader it drives, and the store's wake-up when
// another process adds work. Members in dependency order, so destruction (the reverse)
// ends the wake-ups before the pipeline goes, and the pipeline before its downloader.
class Workers {
 public:
  // Nothing runs before start(). The store and blobs must outlive the workers.
  Workers(const core::Config& config, pipeline::Options options, store::Store& store,
          blob::BlobStore& blobs, pipeline::Pipeline::CompletionListener on_completed);

  void start() { pipeline_.start(); }
  void wake() { pipeline_.wake(); }
  // See Pipeline::stop: images in hand get `grace` to finish, the rest are handed back.
  void stop(std::chrono::milliseconds grace) { pipeline_.stop(grace); }
  std::size_t in_hand() const { return pipeline_.in_hand(); }

 private:
  std::unique_ptr<fetch::Fetcher> fetcher_;
  pipeline::Pipeline pipeline_;
  // Another process's upload or released lease wakes idle workers at once (PostgreSQL's
  // LISTEN/NOTIFY); null where the store has no watch.
  std::unique_ptr<store::WorkWatch> work_watch_;
};

}  // namespace imgbatch
