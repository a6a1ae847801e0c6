// DeletionSweeper: finishes what deleting a request starts, and applies retention.
// Deleting a request (DELETE /requests/ID, or retention) marks it; this sweeper, running
// in every process, then (1) with a retention period, marks the requests that ended
// longer ago than that, (2) removes the rows of marked requests in chunks of `chunk` rows,
// one short transaction each (Store::purge_step; one process at a time, the others skip),
// queueing their image keys, and (3) removes the queued images from the storage in batches
// and forgets each key once its image is gone. A process killed half-way leaves the rest
// marked or queued for the next pass (here or on another node); removing an image twice
// is harmless, so nodes need not agree on who removes images.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "blob/blob_store.hpp"
#include "store/store.hpp"

namespace imgbatch::retention {

class DeletionSweeper {
 public:
  struct Options {
    // How often an idle sweeper looks for work.
    std::chrono::milliseconds interval = std::chrono::seconds(5);
    // Requests that ended longer ago than this are deleted; zero keeps everything (only
    // requests deleted through the API are purged).
    std::chrono::milliseconds retention{0};
    // Rows removed per transaction: small enough that no lock is held for long, even for
    // a request of 100,000 images.
    int chunk = 500;
  };

  // `store` and `blobs` must outlive the sweeper.
  DeletionSweeper(store::Store& store, blob::BlobStore& blobs, Options options);
  DeletionSweeper(store::Store& store, blob::BlobStore& blobs)
      : DeletionSweeper(store, blobs, Options{}) {}
  ~DeletionSweeper();
  DeletionSweeper(const DeletionSweeper&) = delete;
  DeletionSweeper& operator=(const DeletionSweeper&) = delete;

  void start();
  // Ends the thread after the batch in progress. Idempotent.
  void stop();

  // One batch: removes up to `batch` queued images and forgets those removed; a removal
  // that fails stays queued for a later pass. Returns how many were removed. Throws
  // store::StoreError when the database fails.
  int sweep_once(int batch = 100);

  // One step of the purge (Store::purge_step), with "now" given so that tests control
  // which requests have expired. Throws store::StoreError when the database fails.
  store::Store::PurgeStep purge_once(core::TimeMs now);

 private:
  void run();

  store::Store& store_;
  blob::BlobStore& blobs_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace imgbatch::retention
