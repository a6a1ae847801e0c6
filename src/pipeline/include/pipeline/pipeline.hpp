// Pipeline: the scheduler that turns pending tasks into stored images.
//
//   Store::claim_tasks (leased) ─► Fetcher (many downloads overlap, on its own thread)
//     ─► compress queue ─► N compress threads (libvips) ─► put queue ─► N put threads
//     (BlobStore::put, which waits for the disk) ─► outcome queue
//     ─► Store::finish_tasks (batched) ─► on_completed(request ids)
//
// Compress threads run at a lower priority (nice) than the rest of the process, so the
// HTTP API and the scheduler answer promptly while every core is compressing; and they
// never wait for the disk: a put's fsync happens on a put thread meanwhile.
//
// One scheduler thread claims work while there is room (downloads in flight plus images
// waiting for a compress thread stay under a bound, so memory stays flat however large the
// request), renews the leases of what it holds, puts back expired leases of crashed
// processes, and writes outcomes in batches. A transient download failure is retried
// with exponential backoff and jitter (or the host's Retry-After) until max_attempts.
//
// It reports to metrics::ServiceMetrics: images ended (counted once their outcome is
// written), failure reasons, retries, bytes, and the time of each download attempt and of
// each image's processing (decode to stored). Updates are atomic adds, no locks.
//
// A failure (core::Failure, from the fetcher, the compressor or the blob store) is acted
// on by its kind: retried or not, and counted under which reason (failure_policy.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "blob/blob_store.hpp"
#include "core/failure.hpp"
#include "core/types.hpp"
#include "fetch/fetcher.hpp"
#include "metrics/service_metrics.hpp"
#include "store/store.hpp"

namespace imgbatch::pipeline {

struct Options {
  std::string owner;          // lease owner: unique per process (host:pid:random)
  int compress_threads = 1;
  int download_concurrency = 32;
  int max_attempts = 4;
  long long max_pixels = 100'000'000;
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds idle_poll{1'000};    // how often an idle scheduler looks for work
  std::chrono::milliseconds retry_base{1'000};   // first retry delay; doubles per attempt
  // Where to count; it must outlive the pipeline. None: the pipeline keeps its own.
  metrics::ServiceMetrics* metrics = nullptr;
};

class Pipeline {
 public:
  using CompletionListener = std::function<void(const std::vector<std::string>& request_ids)>;

  Pipeline(Options options, store::Store& store, blob::BlobStore& blobs, fetch::Fetcher& fetcher,
           CompletionListener on_completed);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void start();
  // New work may be in the store: look now rather than at the next poll.
  void wake();
  // Stops claiming; waits up to `grace` for the tasks in hand to end, then stops the
  // fetcher, records what ended and hands every other task back to the store (its lease
  // released), so another process can take it at once. Idempotent.
  void stop(std::chrono::milliseconds grace);

  // Tasks claimed and not yet recorded.
  std::size_t in_hand() const;
  metrics::ServiceMetrics& metrics() { return *metrics_; }

 private:
  struct Job {
    core::ClaimedTask task;
    std::string body;
  };
  // An encoded image on its way to the blob store.
  struct PutJob {
    core::ClaimedTask task;
    std::string name;
    std::string bytes;
    std::int64_t bytes_in = 0;
    std::chrono::steady_clock::time_point started;  // when its processing began
  };

  void scheduler_loop();
  void compress_loop();
  void claim_more();
  void renew_leases();
  void flush_outcomes();
  void on_downloaded(core::ClaimedTask task, fetch::FetchResult&& result);
  void compress_one(Job& job);
  void put_loop();
  void put_one(PutJob& job);
  // `reason` counts only when the outcome is a failure.
  void record(core::TaskOutcome outcome,
              metrics::FailureReason reason = metrics::FailureReason::other);
  core::TaskOutcome outcome_of(const core::ClaimedTask& task, core::TaskOutcome::Kind kind) const;
  // Fails the task, or schedules another attempt when the failure's kind is worth one and
  // attempts remain (failure_policy.hpp). `retry_after_seconds`: the host's Retry-After.
  void on_failure(const core::ClaimedTask& task, core::Failure failure,
                  std::optional<long> retry_after_seconds = std::nullopt);
  void fail(const core::ClaimedTask& task, std::string error, metrics::FailureReason reason);
  void schedule_retry(const core::ClaimedTask& task, std::string error,
                      std::optional<long> retry_after_seconds);
  std::size_t capacity() const;

  Options options_;
  store::Store& store_;
  blob::BlobStore& blobs_;
  fetch::Fetcher& fetcher_;
  CompletionListener on_completed_;
  std::unique_ptr<metrics::Registry> own_registry_;  // when Options::metrics is null
  std::unique_ptr<metrics::ServiceMetrics> own_metrics_;
  metrics::ServiceMetrics* metrics_;

  mutable std::mutex mutex_;
  std::condition_variable scheduler_cv_;
  std::condition_variable compress_cv_;
  std::condition_variable put_cv_;
  std::condition_variable drained_cv_;
  bool wake_requested_ = false;
  bool stopping_ = false;          // no more claims
  bool compress_stopping_ = false;  // compress threads exit when the queue is empty
  bool abandon_ = false;           // past the grace period: results are dropped, leases released
  std::unordered_set<std::int64_t> in_hand_;  // claimed, outcome not yet written
  std::deque<Job> compress_queue_;
  std::deque<PutJob> put_queue_;
  bool put_stopping_ = false;  // put threads exit when their queue is empty
  std::vector<core::TaskOutcome> outcomes_;
  std::vector<metrics::FailureReason> outcome_reasons_;  // one per outcome, for failures

  std::thread scheduler_;
  std::vector<std::thread> compressors_;
  std::vector<std::thread> putters_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

// A lease owner id that differs between processes and restarts: "HOST:PID:RANDOM".
std::string make_owner_id();

}  // namespace imgbatch::pipeline
