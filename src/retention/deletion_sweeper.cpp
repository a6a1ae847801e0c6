#include "retention/deletion_sweeper.hpp"

#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace imgbatch::retention {

DeletionSweeper::DeletionSweeper(store::Store& store, blob::BlobStore& blobs,
                                 std::chrono::milliseconds interval)
    : store_(store), blobs_(blobs), interval_(interval) {}

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

void DeletionSweeper::run() {
  constexpr int kBatch = 100;
  for (;;) {
    bool more = false;
    try {
      // A full batch removed whole: there may be more at once; otherwise wait.
      const int removed = sweep_once(kBatch);
      more = removed == kBatch;
      if (removed > 0) spdlog::info("removed {} image(s) of deleted requests", removed);
    } catch (const std::exception& e) {
      spdlog::error("removing the images of deleted requests: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    if (!more) wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace imgbatch::retention
