// DeletionSweeper: removes from the storage the images of deleted requests. Deleting a
// request (Store::delete_request) drops its rows and queues its image keys in one
// transaction; this sweeper, running in every process, removes the queued images in
// batches and forgets each key once its image is gone. A process killed half-way leaves
// the rest queued for the next pass (here or on another node); removing an image twice
// is harmless, so nodes need not agree on who sweeps.
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
  // `store` and `blobs` must outlive the sweeper. `interval`: how often an idle sweeper
  // looks at the queue.
  DeletionSweeper(store::Store& store, blob::BlobStore& blobs,
                  std::chrono::milliseconds interval = std::chrono::seconds(5));
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

 private:
  void run();

  store::Store& store_;
  blob::BlobStore& blobs_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace imgbatch::retention
