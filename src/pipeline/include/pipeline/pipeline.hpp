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
// A cancelled request (Store::cancel_request) ends its tasks in the store at once, leases
// cleared; the pipeline learns of it when it renews its leases (every lease / 3): the
// leases it could not renew are looked up (Store::cancelled_tasks), and those of cancelled
// requests are dropped wherever they are — a queued download never starts (the fetcher
// asks before starting it), a downloaded or encoded image is thrown away, nothing more is
// stored; no outcome is written, the store has ended them. A put already under way
// finishes, and finish_tasks queues that image for removal.
//
// Shared sources (docs/architecture.md, "Shared sources and outputs"): a task with a
// source key comes with what the store knows of its source. Checked since its request was
// uploaded: its output is reused at once, nothing downloaded. A download of the same source
// already in hand: the task waits for it (a follower) and shares its outcome. Otherwise the
// download is conditional: a 304, or bytes of the known SHA-256 (hashed on a compress
// thread, before any decode), reuse the known output; other bytes are made anew and named
// with their hash and validators, so the store remembers them for the next time.
//
// A failure (core::Failure, from the fetcher, the compressor or the blob store refusing an
// output) is acted on by its kind: retried or not, and counted under which reason
// (failure_policy.hpp). A storage that is unavailable fails nothing: see put_one.
//
// The threads share one mutex: the queues, the set of tasks in hand and the stop flags
// change together (a task leaves one queue and enters the next under one lock, and stop()
// must see no task between two places). Each condition variable wakes one kind of
// thread. Every member the threads share is annotated with the mutex that guards it, so
// the clang build (-Wthread-safety) rejects an access without it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "blob/blob_store.hpp"
#include "core/failure.hpp"
#include "core/mutex.hpp"
#include "core/thread_annotations.hpp"
#include "core/types.hpp"
#include "fetch/fetcher.hpp"
#include "metrics/service_metrics.hpp"
#include "store/store.hpp"

namespace imgbatch::pipeline {

struct Options {
  // Lease owner, unique per pipeline; by default named after this process
  // (lease_owner.hpp), so that its leases are taken back at once if it dies.
  std::string owner;
  int compress_threads = 1;
  int compress_nice = 10;  // the compress threads' nice value; 0 leaves them as they are
  int download_concurrency = 32;
  int max_attempts = 4;
  long long max_pixels = 100'000'000;
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds idle_poll{1'000};  // how often an idle scheduler looks for work
  // How often to look for leases held by processes that are gone: dead processes of this
  // host, and on PostgreSQL any whose database session ended (Store::announce_process).
  std::chrono::milliseconds dead_owner_check{2'000};
  std::chrono::milliseconds retry_base{1'000};  // first retry delay; doubles per attempt
  // When the storage is unavailable, hold the image and try its write again until the
  // storage takes it (a service: an outage costs time, never images). False: count the
  // failure as an attempt, as for a refused write (`imgbatch process`, which must end).
  bool hold_when_storage_unavailable = true;
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
  void wake() IMGBATCH_EXCLUDES(mutex_);
  // Stops claiming; waits up to `grace` for the tasks in hand to end, then stops the
  // fetcher, records what ended and hands every other task back to the store (its lease
  // released), so another process can take it at once. Idempotent.
  void stop(std::chrono::milliseconds grace) IMGBATCH_EXCLUDES(mutex_);

  // Tasks claimed and not yet recorded.
  std::size_t in_hand() const IMGBATCH_EXCLUDES(mutex_);
  // Tasks in hand found to belong to a cancelled request, since start(): from then on they
  // are dropped at the next step they reach.
  std::uint64_t cancels_seen() const IMGBATCH_EXCLUDES(mutex_);
  metrics::ServiceMetrics& metrics() { return *metrics_; }

 private:
  struct Job {
    core::ClaimedTask task;
    std::string body;
    fetch::Validators validators;  // what the server said of these bytes
  };
  // One encoded image: the full-size output or one of its sizes.
  struct EncodedImage {
    std::string name;  // inside the request, e.g. "0-1.jpg" or "0-1-thumb.jpg"
    std::string bytes;
  };
  // A task's encoded images on their way to the blob store.
  struct PutJob {
    core::ClaimedTask task;
    std::vector<EncodedImage> images;  // the full-size one first, then each size
    std::int64_t bytes_in = 0;
    core::ImageReport report;                       // the full-size image's
    std::chrono::steady_clock::time_point started;  // when its processing began
    std::string sha256;                             // of the download
    fetch::Validators validators;
  };
  // The downloads of shared sources in hand, by source key: the task downloading it and
  // the tasks of the same source waiting for its outcome.
  struct Shared {
    std::int64_t leader = 0;
    std::vector<core::ClaimedTask> followers;
  };

  // A follower's outcome from the outcome of the task whose download it shared.
  core::TaskOutcome follower_outcome(const core::TaskOutcome& leader,
                                     const core::ClaimedTask& follower) const;
  void scheduler_loop() IMGBATCH_EXCLUDES(mutex_);
  // Whether the scheduler has a reason to stop sleeping.
  bool scheduler_woken() const IMGBATCH_REQUIRES(mutex_);
  void compress_loop() IMGBATCH_EXCLUDES(mutex_);
  void claim_more() IMGBATCH_EXCLUDES(mutex_);
  void renew_leases() IMGBATCH_EXCLUDES(mutex_);
  // Puts back the tasks leased to owners that are gone, so they need not wait for expiry.
  void release_dead_owners();
  void flush_outcomes() IMGBATCH_EXCLUDES(mutex_);
  // Of the tasks in hand `ids`, marks those of cancelled requests and drops the ones
  // waiting in a queue; returns how many were cancelled.
  std::size_t drop_cancelled(const std::vector<std::int64_t>& ids) IMGBATCH_EXCLUDES(mutex_);
  // True (and the task dropped from the hand) when its request was found cancelled.
  bool drop_if_cancelled(std::int64_t task_id) IMGBATCH_EXCLUDES(mutex_);
  void drop(std::int64_t task_id) IMGBATCH_REQUIRES(mutex_);
  bool still_wanted(std::int64_t task_id) const IMGBATCH_EXCLUDES(mutex_);
  void on_downloaded(core::ClaimedTask task, fetch::FetchResult&& result) IMGBATCH_EXCLUDES(mutex_);
  void compress_one(Job& job) IMGBATCH_EXCLUDES(mutex_);
  void put_loop() IMGBATCH_EXCLUDES(mutex_);
  void put_one(PutJob& job) IMGBATCH_EXCLUDES(mutex_);
  // Stores one image, trying again while the storage is unavailable (put_one's comment);
  // false when it was not stored: the task's failure is recorded, or the pipeline is
  // abandoning its work. `failures` counts the unavailable tries.
  bool put_with_retries(const core::ClaimedTask& task, const std::string& key,
                        const std::string& bytes, int& failures) IMGBATCH_EXCLUDES(mutex_);
  // Removes what a failed image's earlier puts stored (its sizes), so nothing is left that
  // no task references.
  void remove_orphans(const core::ClaimedTask& task, const std::vector<std::string>& keys);
  // Waits `wait` before the next try of a put; false when the pipeline is abandoning its
  // work (past stop()'s grace period) and the put should give up.
  bool wait_for_storage(std::chrono::milliseconds wait) IMGBATCH_EXCLUDES(mutex_);
  bool abandoning() const IMGBATCH_EXCLUDES(mutex_);
  // `reason` counts only when the outcome is a failure.
  void record(core::TaskOutcome outcome,
              metrics::FailureReason reason = metrics::FailureReason::other)
      IMGBATCH_EXCLUDES(mutex_);
  // record() under the lock: the outcome, then its followers' (a shared download's).
  void record_locked(core::TaskOutcome outcome, metrics::FailureReason reason)
      IMGBATCH_REQUIRES(mutex_);
  // Hands a claimed task on: reused at once, waiting for a download in hand, or downloaded.
  void start_task(core::ClaimedTask task) IMGBATCH_EXCLUDES(mutex_);
  // The outcome of a task whose output is the known one of its source.
  core::TaskOutcome reused_outcome(const core::ClaimedTask& task, const core::KnownSource& known,
                                   core::Reuse how, const fetch::Validators& validators) const;
  core::TaskOutcome outcome_of(const core::ClaimedTask& task, core::TaskOutcome::Kind kind) const;
  // Fails the task, or schedules another attempt when the failure's kind is worth one and
  // attempts remain (failure_policy.hpp). `retry_after_seconds`: the host's Retry-After.
  void on_failure(const core::ClaimedTask& task, core::Failure failure,
                  std::optional<long> retry_after_seconds = std::nullopt) IMGBATCH_EXCLUDES(mutex_);
  void fail(const core::ClaimedTask& task, std::string error, metrics::FailureReason reason)
      IMGBATCH_EXCLUDES(mutex_);
  void schedule_retry(const core::ClaimedTask& task, std::string error,
                      std::optional<long> retry_after_seconds) IMGBATCH_EXCLUDES(mutex_);
  std::size_t capacity() const;
  std::size_t compress_backlog() const;

  Options options_;
  store::Store& store_;
  blob::BlobStore& blobs_;
  fetch::Fetcher& fetcher_;
  CompletionListener on_completed_;
  std::unique_ptr<metrics::Registry> own_registry_;  // when Options::metrics is null
  std::unique_ptr<metrics::ServiceMetrics> own_metrics_;
  metrics::ServiceMetrics* metrics_;

  mutable core::Mutex mutex_;
  std::condition_variable scheduler_cv_;     // wake_requested_, abandon_, a full batch of outcomes
  std::condition_variable compress_cv_;      // compress_queue_, compress_stopping_
  std::condition_variable put_cv_;           // put_queue_, put_stopping_
  std::condition_variable drained_cv_;       // in_hand_ empty (stop() waits for it)
  std::condition_variable storage_wait_cv_;  // abandon_ (a put waiting for the storage)
  // True at first: the scheduler's first pass (dead owners, then claims) runs at once.
  bool wake_requested_ IMGBATCH_GUARDED_BY(mutex_) = true;
  bool stopping_ IMGBATCH_GUARDED_BY(mutex_) = false;  // no more claims
  // Compress threads exit when the queue is empty.
  bool compress_stopping_ IMGBATCH_GUARDED_BY(mutex_) = false;
  // Past the grace period: results are dropped, leases released.
  bool abandon_ IMGBATCH_GUARDED_BY(mutex_) = false;
  // Claimed, outcome not yet written.
  std::unordered_set<std::int64_t> in_hand_ IMGBATCH_GUARDED_BY(mutex_);
  // In hand, of a cancelled request: dropped at the next step they reach.
  std::unordered_set<std::int64_t> cancelled_ IMGBATCH_GUARDED_BY(mutex_);
  std::uint64_t cancels_seen_ IMGBATCH_GUARDED_BY(mutex_) = 0;
  std::deque<Job> compress_queue_ IMGBATCH_GUARDED_BY(mutex_);
  std::deque<PutJob> put_queue_ IMGBATCH_GUARDED_BY(mutex_);
  bool put_stopping_ IMGBATCH_GUARDED_BY(mutex_) = false;  // put threads exit when it is empty
  std::vector<core::TaskOutcome> outcomes_ IMGBATCH_GUARDED_BY(mutex_);
  std::unordered_map<std::string, Shared> shared_ IMGBATCH_GUARDED_BY(mutex_);
  // The source key of each leader in shared_, by task id.
  std::unordered_map<std::int64_t, std::string> leading_ IMGBATCH_GUARDED_BY(mutex_);
  // Sources made here whose outcome is recorded but not yet written to the store: a task of
  // the same source claimed meanwhile finds no sources row yet, and takes this outcome
  // instead of downloading again. By source key; removed when the outcome is written.
  std::unordered_map<std::string, core::TaskOutcome> made_ IMGBATCH_GUARDED_BY(mutex_);
  // One per outcome, for failures.
  std::vector<metrics::FailureReason> outcome_reasons_ IMGBATCH_GUARDED_BY(mutex_);

  std::unique_ptr<store::ProcessPresence> presence_;  // from start() until stop()
  std::thread scheduler_;
  std::vector<std::thread> compressors_;
  std::vector<std::thread> putters_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace imgbatch::pipeline
