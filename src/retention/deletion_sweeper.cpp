#include "retention/deletion_sweeper.hpp"

#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace imgbatch::retention {

DeletionSweeper::DeletionSweeper(store::Store& store, blob::BlobStore& blobs, Options options)
    : store_(store), blobs_(blobs), options_(options) {}

DeletionSweeper::~DeletionSweeper() { stop(); }

void DeletionSweeper::start() {
  thread_ = std::thread([this] { run(); });
}

void DeletionSweeper::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int DeletionSweeper::sweep_once(int batch) {
  const auto keys = store_.pending_blob_deletions(batch);
  std::vector<std::string> removed;
  removed.reserve(keys.size());
  for (const auto& key : keys) {
    const auto status = blobs_.remove(key);
    if (status.ok()) {
      removed.push_back(key);
    } else {
      spdlog::warn("image {} of a deleted request not removed yet: {}", key, status.message());
    }
  }
  store_.forget_blob_deletions(removed);
  return static_cast<int>(removed.size());
}

store::Store::PurgeStep DeletionSweeper::purge_once(core::TimeMs now) {
  std::optional<core::TimeMs> ended_before;
  if (options_.retention.count() > 0) ended_before = now - options_.retention.count();
  return store_.purge_step(ended_before, now, options_.chunk);
}

void DeletionSweeper::run() {
  constexpr int kBatch = 100;
  for (;;) {
    bool more = false;
    try {
      // One purge step per round, between image batches: rows and images go at the same
      // pace, and stop() is never kept waiting for more than one short transaction.
      const auto step = purge_once(core::now_ms());
      more = step.more && !step.busy;
      if (step.marked > 0)
        spdlog::info("retention: {} request(s) ended more than {} s ago, deleting them",
                     step.marked,
                     std::chrono::duration_cast<std::chrono::seconds>(options_.retention).count());
    } catch (const std::exception& e) {
      spdlog::error("purging deleted requests: {}", e.what());
    }
    try {
      // A full batch removed whole: there may be more at once; otherwise wait.
      const int removed = sweep_once(kBatch);
      more = more || removed == kBatch;
      if (removed > 0) spdlog::info("removed {} image(s) of deleted requests", removed);
    } catch (const std::exception& e) {
      spdlog::error("removing the images of deleted requests: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    if (!more) wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace imgbatch::retention
