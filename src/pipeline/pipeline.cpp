#include "pipeline/pipeline.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/sha256.hpp"
#include "failure_policy.hpp"
#include "imaging/process.hpp"
#include "lease_owner.hpp"
#include "logging/logging.hpp"

namespace imgbatch::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
using core::TaskOutcome;
using metrics::FailureReason;

// Outcomes are written in batches: one transaction per this many images, or per tick.
constexpr std::size_t kFlushBatch = 64;
constexpr auto kBusyTick = std::chrono::milliseconds(20);
constexpr int kMaxClaimBatch = 64;
constexpr long kMaxRetryAfterSeconds = 3600;  // a host cannot park a task for a day
// The longest wait between two tries of a put the storage did not take.
constexpr auto kMaxStorageWait = std::chrono::milliseconds(30'000);
// Gives a compress thread (and the libvips workers it starts, which inherit it) the nice
// value `nice`: under full load the HTTP and scheduler threads, at 0, get the CPU when they
// wake. Linux keeps a nice value per thread. Failing (a seccomp profile, say) costs only
// latency.
void lower_this_thread_priority(int nice) {
  if (nice <= 0) return;
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) != 0)
    spdlog::debug(
        "could not lower the priority of a compress thread; the API may answer "
        "more slowly under load");
}

double jitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.5, 1.5)(rng);
}

std::string output_name(const core::ClaimedTask& task, const std::string& extension) {
  return std::to_string(task.product_index) + "-" + std::to_string(task.image_index) + "." +
         extension;
}

// The extension of a stored image's name or key ("jpg" of "ID/0-1.jpg").
std::string extension_of(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(name.substr(dot + 1));
}

std::vector<std::string> size_names(const core::ClaimedTask& task) {
  std::vector<std::string> names;
  for (const auto& size : task.choices.sizes) names.push_back(size.name);
  return names;
}

// What imaging::process() is asked for a task: its request's choices (core::OutputChoices,
// its quality floor included: the --min-quality of the node that took the upload, part of
// its source key) and the worker's limits.
imaging::ProcessOptions process_options(const core::ClaimedTask& task, const Options& options) {
  imaging::ProcessOptions process;
  const core::OutputChoices& choices = task.choices;
  process.quality.automatic = choices.quality_target.has_value();
  process.quality.fixed = task.quality;
  process.quality.target = choices.quality_target.value_or(0);
  process.max_bytes = choices.max_bytes;
  process.min_quality = choices.min_quality;
  process.never_larger = choices.never_larger;
  process.format = task.format;
  process.sizes = choices.sizes;
  process.max_pixels = options.max_pixels;
  return process;
}

core::ImageReport store_report(const imaging::ImageReport& report) {
  core::ImageReport stored;
  if (!report.kept) stored.quality = report.quality;
  stored.score = report.score;
  stored.kept = report.kept;
  return stored;
}

}  // namespace

Pipeline::Pipeline(Options options, store::Store& store, blob::BlobStore& blobs,
                   fetch::Fetcher& fetcher, CompletionListener on_completed)
    : options_(std::move(options)),
      store_(store),
      blobs_(blobs),
      fetcher_(fetcher),
      on_completed_(std::move(on_completed)),
      metrics_(options_.metrics) {
  if (metrics_ == nullptr) {
    own_registry_ = std::make_unique<metrics::Registry>();
    own_metrics_ = std::make_unique<metrics::ServiceMetrics>(*own_registry_);
    metrics_ = own_metrics_.get();
  }
  if (options_.owner.empty()) options_.owner = make_owner_id();
  options_.compress_threads = std::max(1, options_.compress_threads);
  options_.download_concurrency = std::max(1, options_.download_concurrency);
  options_.max_attempts = std::max(1, options_.max_attempts);
}

Pipeline::~Pipeline() { stop(std::chrono::milliseconds(0)); }

void Pipeline::start() {
  if (started_.load()) return;
  // First, so that a failure here leaves the pipeline not started (stop() then does nothing).
  presence_ = store_.announce_process(options_.owner);
  started_ = true;
  for (int i = 0; i < options_.compress_threads; ++i) {
    compressors_.emplace_back([this] { compress_loop(); });
    putters_.emplace_back([this] { put_loop(); });
  }
  scheduler_ = std::thread([this] { scheduler_loop(); });
}

void Pipeline::wake() {
  {
    core::MutexLock lock(mutex_);
    wake_requested_ = true;
  }
  scheduler_cv_.notify_one();
}

std::size_t Pipeline::in_hand() const {
  core::MutexLock lock(mutex_);
  return in_hand_.size();
}

std::uint64_t Pipeline::cancels_seen() const {
  core::MutexLock lock(mutex_);
  return cancels_seen_;
}

// Room for downloads in flight plus a short queue before each compress thread: enough to
// keep every core busy, small enough that memory does not grow with the request's size.
std::size_t Pipeline::capacity() const {
  return static_cast<std::size_t>(options_.download_concurrency) +
         2 * static_cast<std::size_t>(options_.compress_threads);
}

// Downloaded images kept ready for the compress threads: two each, so a thread finishing
// an image finds the next even if the scheduler (which ticks every 20 ms) is late.
std::size_t Pipeline::compress_backlog() const {
  return 2 * static_cast<std::size_t>(options_.compress_threads);
}

void Pipeline::stop(std::chrono::milliseconds grace) {
  if (!started_.load() || stopped_.exchange(true)) return;
  {
    core::MutexLock lock(mutex_);
    stopping_ = true;
    scheduler_cv_.notify_all();
    const auto deadline = Clock::now() + grace;
    while (!in_hand_.empty() && lock.wait_until(drained_cv_, deadline)) continue;
    abandon_ = true;
    compress_stopping_ = true;
    compress_queue_.clear();  // still in in_hand_: their leases are released below
  }
  compress_cv_.notify_all();
  // A put waiting for the storage to come back gives up now, and one hung on a storage
  // that stopped answering is cut (and so are those still queued, on such a storage):
  // nothing may hold the shutdown past its grace. Their images go back to the queue.
  storage_wait_cv_.notify_all();
  blobs_.abandon_writes();
  fetcher_.stop();  // running downloads call back now; abandon_ makes them no-ops
  for (auto& t : compressors_) t.join();
  {
    // Whatever is encoded is stored and recorded: it costs a write, and saves a redo
    // (a local disk; an object store's writes are abandoned by now, see above).
    core::MutexLock lock(mutex_);
    put_stopping_ = true;
  }
  put_cv_.notify_all();
  for (auto& t : putters_) t.join();
  {
    core::MutexLock lock(mutex_);
    wake_requested_ = true;
  }
  scheduler_cv_.notify_all();
  scheduler_.join();
  try {
    flush_outcomes();
    const int released = store_.release_leases(options_.owner);
    if (released > 0) spdlog::info("handed {} unfinished task(s) back to the queue", released);
  } catch (const std::exception& e) {
    // Nothing is lost: leaving without a goodbye lets the others find this process gone
    // (on PostgreSQL) and take its tasks; otherwise its leases expire.
    spdlog::error("could not release leases at shutdown: {}", e.what());
    if (presence_) presence_->leave_without_goodbye();
  }
  presence_.reset();  // after the leases: whoever finds us gone finds nothing left to take
}

void Pipeline::release_dead_owners() {
  try {
    int released = 0;
    for (const auto& owner : store_.lease_owners())
      if (owner != options_.owner && owner_is_gone(owner)) released += store_.release_leases(owner);
    // While our own presence is being re-established (the database restarted), others may
    // be in the same gap: their free locks would not mean they are gone.
    if (presence_ && presence_->present())
      released += store_.release_departed_owners(options_.owner, core::now_ms());
    if (released > 0) spdlog::warn("took back {} task(s) from processes that are gone", released);
  } catch (const std::exception& e) {
    // A check that fails must not stop the claims; the next one comes soon.
    spdlog::error("looking for the leases of processes that are gone: {}", e.what());
  }
}

void Pipeline::scheduler_loop() {
  auto next_renew = Clock::now() + options_.lease / 3;
  auto next_rescue = Clock::now();
  auto next_dead_owner_check = Clock::now();
  for (;;) {
    {
      core::MutexLock lock(mutex_);
      if (abandon_) return;
      const auto deadline = Clock::now() + (in_hand_.empty() ? options_.idle_poll : kBusyTick);
      while (!scheduler_woken() && lock.wait_until(scheduler_cv_, deadline)) continue;
      wake_requested_ = false;
      if (abandon_) return;
    }
    try {
      flush_outcomes();
      const auto now = Clock::now();
      if (now >= next_dead_owner_check) {
        release_dead_owners();
        next_dead_owner_check = now + options_.dead_owner_check;
      }
      if (now >= next_rescue) {
        const int released = store_.release_expired_leases(core::now_ms());
        if (released > 0) spdlog::warn("took back {} task(s) whose lease had expired", released);
        next_rescue = now + options_.lease / 2;
      }
      if (now >= next_renew) {
        renew_leases();
        next_renew = now + options_.lease / 3;
      }
      claim_more();
    } catch (const std::exception& e) {
      // The database is unavailable for a moment (locked, restarting): try again later;
      // tasks in hand keep their outcomes queued.
      spdlog::error("scheduler: {}; retrying", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

bool Pipeline::scheduler_woken() const {
  return wake_requested_ || abandon_ || outcomes_.size() >= kFlushBatch;
}

void Pipeline::claim_more() {
  std::size_t room;
  {
    core::MutexLock lock(mutex_);
    if (stopping_) return;
    const auto held = in_hand_.size();
    room = held >= capacity() ? 0 : capacity() - held;
    // Images downloaded and waiting for a compress thread were claimed earlier, and a
    // request uploaded now waits behind all of them however fair the claims are. From a
    // fast origin every claim lands there at once, so claim only while that queue is
    // short; downloads from slow origins never wait there, and still fill the capacity.
    const auto waiting = compress_queue_.size();
    room = std::min(room, waiting >= compress_backlog() ? 0 : compress_backlog() - waiting);
  }
  if (room == 0) return;
  const int want = static_cast<int>(std::min<std::size_t>(room, kMaxClaimBatch));
  auto tasks = store_.claim_tasks(options_.owner, want, core::now_ms(), options_.lease.count());
  if (tasks.empty()) return;
  {
    core::MutexLock lock(mutex_);
    for (const auto& task : tasks) in_hand_.insert(task.task_id);
    // A full batch suggests more is waiting: look again without sleeping.
    if (static_cast<int>(tasks.size()) == want) wake_requested_ = true;
  }
  for (auto& task : tasks) start_task(std::move(task));
}

void Pipeline::start_task(core::ClaimedTask task) {
  // Checked since its request was uploaded (a repeat within one CSV, or a request that
  // ran meanwhile): as fresh as a download of its own would be.
  if (task.known && task.known->checked_at >= task.request_created_at) {
    record(reused_outcome(task, *task.known, core::Reuse::duplicate, {}));
    return;
  }
  if (task.source_key) {
    core::MutexLock lock(mutex_);
    if (const auto made = made_.find(*task.source_key); made != made_.end()) {
      // Made here a moment ago, its outcome not yet in the store.
      outcomes_.push_back(follower_outcome(made->second, task));
      outcome_reasons_.push_back(FailureReason::other);
      return;
    }
    auto [shared, first] = shared_.try_emplace(*task.source_key);
    if (!first) {  // downloaded by another task in hand: its outcome is this one's
      shared->second.followers.push_back(std::move(task));
      return;
    }
    shared->second.leader = task.task_id;
    leading_.emplace(task.task_id, *task.source_key);
  }
  fetch::Validators validators;
  if (task.known) validators = {task.known->etag, task.known->last_modified};
  std::string url = task.source_url;
  const std::int64_t id = task.task_id;
  fetcher_.fetch(
      std::move(url),
      [this, task = std::move(task)](fetch::FetchResult&& result) {
        on_downloaded(task, std::move(result));
      },
      [this, id] { return still_wanted(id); }, std::move(validators));
}

core::TaskOutcome Pipeline::reused_outcome(const core::ClaimedTask& task,
                                           const core::KnownSource& known, core::Reuse how,
                                           const fetch::Validators& validators) const {
  TaskOutcome outcome = outcome_of(task, TaskOutcome::Kind::succeeded);
  outcome.output_name = output_name(task, extension_of(known.blob_key));
  outcome.blob_key = known.blob_key;
  outcome.reused = how;
  outcome.source_key = task.source_key;
  outcome.sha256 = known.sha256;
  outcome.etag = validators.etag;
  outcome.last_modified = validators.last_modified;
  outcome.bytes_in = known.bytes_in;
  outcome.bytes_out = known.bytes_out;
  outcome.report = known.report;
  outcome.sizes = size_names(task);
  log::for_request(task.request_id)
      .debug("image {}-{} reuses {} ({})", task.product_index, task.image_index, known.blob_key,
             core::to_string(how));
  return outcome;
}

void Pipeline::renew_leases() {
  std::vector<std::int64_t> ids;
  {
    core::MutexLock lock(mutex_);
    ids.assign(in_hand_.begin(), in_hand_.end());
  }
  if (ids.empty()) return;
  const auto until = core::now_ms() + options_.lease.count();
  const int renewed = store_.renew_leases(options_.owner, ids, until);
  if (renewed == static_cast<int>(ids.size())) return;
  const auto missed = ids.size() - static_cast<std::size_t>(renewed);
  // A cancel that came after the renewal may name renewed tasks too: never below zero.
  const std::size_t lost = missed - std::min(missed, drop_cancelled(ids));
  if (lost > 0)
    spdlog::warn(
        "{} of {} lease(s) were lost (expired and taken elsewhere); their results "
        "will count only if they finish first",
        lost, ids.size());
}

// Only when a renewal missed: a cancel clears the leases of its tasks, so the common case
// costs no lookup. Those of `ids` (the tasks in hand) that were neither renewed nor
// cancelled were lost another way (expired and taken elsewhere). Returns how many of them
// belong to cancelled requests.
std::size_t Pipeline::drop_cancelled(const std::vector<std::int64_t>& ids) {
  const auto cancelled = store_.cancelled_tasks(ids);
  std::size_t newly = 0;  // those still waiting in the fetcher's queue are found again
  {
    core::MutexLock lock(mutex_);
    for (std::int64_t id : cancelled)
      if (in_hand_.contains(id) && cancelled_.insert(id).second) ++newly;
    cancels_seen_ += newly;
    // Those waiting for a compress or a put thread go now; the rest at their next step.
    // Plain loops: the thread-safety analysis does not see the lock inside a lambda.
    for (auto job = compress_queue_.begin(); job != compress_queue_.end();) {
      if (!cancelled_.contains(job->task.task_id)) {
        ++job;
        continue;
      }
      drop(job->task.task_id);
      job = compress_queue_.erase(job);
    }
    for (auto job = put_queue_.begin(); job != put_queue_.end();) {
      if (!cancelled_.contains(job->task.task_id)) {
        ++job;
        continue;
      }
      drop(job->task.task_id);
      job = put_queue_.erase(job);
    }
  }
  if (newly > 0)
    spdlog::info("{} image(s) in hand belong to cancelled requests; they are dropped", newly);
  return cancelled.size();
}

bool Pipeline::still_wanted(std::int64_t task_id) const {
  core::MutexLock lock(mutex_);
  return !cancelled_.contains(task_id);
}

bool Pipeline::drop_if_cancelled(std::int64_t task_id) {
  core::MutexLock lock(mutex_);
  if (!cancelled_.contains(task_id)) return false;
  drop(task_id);
  return true;
}

void Pipeline::drop(std::int64_t task_id) {
  cancelled_.erase(task_id);
  if (in_hand_.erase(task_id) > 0 && in_hand_.empty()) drained_cv_.notify_all();
  // A dropped download shared with other tasks: they go back to the queue, to be claimed
  // (and downloaded) again at once.
  const auto lead = leading_.find(task_id);
  if (lead == leading_.end()) return;
  const auto shared = shared_.find(lead->second);
  std::vector<core::ClaimedTask> followers = std::move(shared->second.followers);
  shared_.erase(shared);
  leading_.erase(lead);
  for (const auto& follower : followers) {
    TaskOutcome retry = outcome_of(follower, TaskOutcome::Kind::retry);
    retry.error = "the download it shared was stopped (a cancelled request); trying again";
    retry.retry_at = core::now_ms();
    outcomes_.push_back(std::move(retry));
    outcome_reasons_.push_back(FailureReason::other);
  }
}

void Pipeline::on_downloaded(core::ClaimedTask task, fetch::FetchResult&& result) {
  {
    core::MutexLock lock(mutex_);
    if (abandon_) return;                     // shutting down: the lease is released instead
    if (cancelled_.contains(task.task_id)) {  // whatever came: the store has ended it
      drop(task.task_id);
      return;
    }
    // Counted under the lock so a download cut short by stop() is never counted.
    metrics_->download_seconds().observe(result.seconds);
    if (result.ok() && !result.not_modified) {
      metrics_->bytes_in().inc(result.body.size());
      compress_queue_.push_back(
          Job{std::move(task), std::move(result.body), std::move(result.validators)});
    }
  }
  if (result.ok() && !result.not_modified) {
    compress_cv_.notify_one();
    return;
  }
  // NOLINTBEGIN(bugprone-use-after-move): task was moved only when queued, which returned.
  if (result.not_modified) {  // the known output is current: nothing to download or make
    if (task.known) {
      record(reused_outcome(task, *task.known, core::Reuse::not_modified, result.validators));
      return;
    }
    result.failure =
        core::make_failure(core::Failure::Kind::http_error, "download failed: HTTP 304");
  }
  // NOLINTEND(bugprone-use-after-move)
  // NOLINTNEXTLINE(bugprone-use-after-move): task was moved only on success, which returned.
  on_failure(task, std::move(*result.failure), result.retry_after_seconds);
}

TaskOutcome Pipeline::outcome_of(const core::ClaimedTask& task, TaskOutcome::Kind kind) const {
  TaskOutcome outcome;
  outcome.task_id = task.task_id;
  outcome.request_id = task.request_id;
  outcome.kind = kind;
  outcome.owner = options_.owner;
  return outcome;
}

void Pipeline::on_failure(const core::ClaimedTask& task, core::Failure failure,
                          std::optional<long> retry_after_seconds) {
  const FailurePolicy policy = policy_for(failure.kind);
  if (!policy.retry) {
    fail(task, std::move(failure.message), policy.reason);
  } else if (task.attempt >= options_.max_attempts) {
    fail(task, failure.message + " (gave up after " + std::to_string(task.attempt) + " attempts)",
         policy.reason);
  } else {
    schedule_retry(task, std::move(failure.message), retry_after_seconds);
  }
}

void Pipeline::fail(const core::ClaimedTask& task, std::string error, FailureReason reason) {
  TaskOutcome outcome = outcome_of(task, TaskOutcome::Kind::failed);
  outcome.error = std::move(error);
  record(std::move(outcome), reason);
}

void Pipeline::schedule_retry(const core::ClaimedTask& task, std::string error,
                              std::optional<long> retry_after_seconds) {
  TaskOutcome outcome = outcome_of(task, TaskOutcome::Kind::retry);
  std::int64_t delay_ms;
  if (retry_after_seconds) {
    delay_ms = std::clamp(*retry_after_seconds, 0L, kMaxRetryAfterSeconds) * 1000;
  } else {
    const double backoff = static_cast<double>(options_.retry_base.count()) *
                           static_cast<double>(1LL << std::min(task.attempt - 1, 20));
    delay_ms = static_cast<std::int64_t>(backoff * jitter());
  }
  log::for_request(task.request_id)
      .debug("image {}-{} attempt {} failed: {}; next try in {} ms", task.product_index,
             task.image_index, task.attempt, error, delay_ms);
  outcome.error = std::move(error);
  outcome.retry_at = core::now_ms() + delay_ms;
  metrics_->image_retries().inc();
  record(std::move(outcome));
}

void Pipeline::compress_loop() {
  lower_this_thread_priority(options_.compress_nice);
  for (;;) {
    Job job;
    {
      core::MutexLock lock(mutex_);
      while (!compress_stopping_ && compress_queue_.empty()) lock.wait(compress_cv_);
      if (compress_queue_.empty()) return;
      job = std::move(compress_queue_.front());
      compress_queue_.pop_front();
    }
    compress_one(job);
  }
}

void Pipeline::compress_one(Job& job) {
  const auto& task = job.task;
  if (drop_if_cancelled(task.task_id)) return;
  std::string sha256;
  if (task.source_key) {
    sha256 = core::sha256_hex(job.body);
    // The bytes known: their output is stored already (no decode, no encode).
    if (task.known && task.known->sha256 == sha256) {
      record(reused_outcome(task, *task.known, core::Reuse::same_bytes, job.validators));
      return;
    }
  }
  const auto started = Clock::now();
  const auto observe = [&] {
    metrics_->processing_seconds().observe(
        std::chrono::duration<double>(Clock::now() - started).count());
  };
  auto outputs = imaging::process(job.body, process_options(task, options_));
  const auto bytes_in = static_cast<std::int64_t>(job.body.size());
  std::string().swap(job.body);  // the download is no longer needed: free it now
  if (!outputs) {
    observe();
    on_failure(task, std::move(outputs).error());
    return;
  }
  // Every output of one request has the full-size image's format, so its sizes' names
  // follow from the full-size name (core::sized_output_name), as the stores rebuild them.
  PutJob put{task,
             {},
             bytes_in,
             store_report(outputs->front().report),
             started,
             sha256,
             std::move(job.validators)};
  const std::string name = output_name(task, outputs->front().encoded.extension);
  for (auto& output : *outputs)
    put.images.push_back({output.size.empty() ? name : core::sized_output_name(name, output.size),
                          std::move(output.encoded.bytes)});
  {
    core::MutexLock lock(mutex_);
    put_queue_.push_back(std::move(put));
  }
  put_cv_.notify_one();
}

void Pipeline::put_loop() {
  for (;;) {
    PutJob job;
    {
      core::MutexLock lock(mutex_);
      while (!put_stopping_ && put_queue_.empty()) lock.wait(put_cv_);
      if (put_queue_.empty()) return;
      job = std::move(put_queue_.front());
      put_queue_.pop_front();
    }
    put_one(job);
  }
}

bool Pipeline::wait_for_storage(std::chrono::milliseconds wait) {
  core::MutexLock lock(mutex_);
  const auto deadline = Clock::now() + wait;
  while (!abandon_ && lock.wait_until(storage_wait_cv_, deadline)) continue;
  return !abandon_;
}

bool Pipeline::abandoning() const {
  core::MutexLock lock(mutex_);
  return abandon_;
}

// A put the storage does not take because it is unavailable is tried again here, the
// image kept in hand (its lease renewed) instead of being failed or rescheduled: an
// outage of the storage — a full disk, an object store that is down — is nobody's image's
// fault and must not use up attempts. The worker keeps claiming and compressing until it
// holds as many images as it may (capacity()), then waits with them until the storage is
// back and carries on where it was. A write the storage refuses for this image (too large
// for it, a bad checksum) is the image's failure, like any other.
void Pipeline::put_one(PutJob& job) {
  const auto& task = job.task;
  // Checked once, before the first image: once one is stored, the others follow and the
  // outcome is reported, so that a cancel's late success queues every stored image for
  // removal (Store::finish_tasks) instead of leaving some behind.
  if (drop_if_cancelled(task.task_id)) return;  // nothing stored that would need removing
  int failures = 0;
  // The sizes first, the full-size image last: a stored full-size image (what the status
  // links) has its sizes beside it.
  std::vector<std::string> stored;
  for (auto image = job.images.rbegin(); image != job.images.rend(); ++image) {
    const std::string key = task.request_id + "/" + image->name;
    if (!put_with_retries(task, key, image->bytes, failures)) {
      // The image failed (a put refused): its sizes already stored would be referenced by
      // nothing. Handed back instead (shutting down), they stay: the next run writes the
      // same keys again.
      if (!abandoning()) remove_orphans(task, stored);
      return;
    }
    stored.push_back(key);
  }
  if (failures > 0)
    log::for_request(task.request_id)
        .info("image {}-{} stored after {} failed tries", task.product_index, task.image_index,
              failures);
  metrics_->processing_seconds().observe(
      std::chrono::duration<double>(Clock::now() - job.started).count());
  TaskOutcome outcome = outcome_of(task, TaskOutcome::Kind::succeeded);
  outcome.output_name = job.images.front().name;
  outcome.bytes_in = job.bytes_in;
  outcome.bytes_out = static_cast<std::int64_t>(job.images.front().bytes.size());
  outcome.report = job.report;
  outcome.sizes = size_names(task);
  // Named by its own task; remembered for its source, so that the next time it is reused.
  outcome.blob_key = task.request_id + "/" + outcome.output_name.value_or("");
  outcome.source_key = task.source_key;
  outcome.sha256 = std::move(job.sha256);
  outcome.etag = std::move(job.validators.etag);
  outcome.last_modified = std::move(job.validators.last_modified);
  metrics_->bytes_out().inc(static_cast<std::uint64_t>(outcome.bytes_out));
  record(std::move(outcome));
}

// Best effort: a removal that fails is logged and left (the object is small and unlisted).
void Pipeline::remove_orphans(const core::ClaimedTask& task, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    if (const auto removed = blobs_.remove(key); !removed.ok())
      log::for_request(task.request_id)
          .warn("could not remove {} of a failed image: {}", key, removed.message());
  }
}

bool Pipeline::put_with_retries(const core::ClaimedTask& task, const std::string& key,
                                const std::string& bytes, int& failures) {
  auto wait = std::max(options_.retry_base, std::chrono::milliseconds(1));
  for (auto stored = blobs_.put(key, bytes); !stored; stored = blobs_.put(key, bytes)) {
    // Past the grace period: the write was cut or not tried; the task goes back as it was.
    if (abandoning()) return false;
    if (stored.error().kind == blob::BlobError::Kind::refused ||
        !options_.hold_when_storage_unavailable) {
      on_failure(task, core::make_failure(core::Failure::Kind::storage_error, stored.message()));
      return false;
    }
    metrics_->storage_write_failures().inc();
    ++failures;
    log::for_request(task.request_id)
        .warn("image {}-{} not stored ({}); trying again in {} ms, the image keeps its attempts",
              task.product_index, task.image_index, stored.message(), wait.count());
    if (!wait_for_storage(wait)) return false;  // shutting down: stop() hands the task back
    wait = std::min(wait * 2, kMaxStorageWait);
  }
  return true;
}

void Pipeline::record(TaskOutcome outcome, FailureReason reason) {
  bool flush_now;
  {
    core::MutexLock lock(mutex_);
    record_locked(std::move(outcome), reason);
    flush_now = outcomes_.size() >= kFlushBatch;
  }
  if (flush_now) scheduler_cv_.notify_one();
}

void Pipeline::record_locked(TaskOutcome outcome, FailureReason reason) {
  std::vector<core::ClaimedTask> followers;
  if (const auto lead = leading_.find(outcome.task_id); lead != leading_.end()) {
    const auto shared = shared_.find(lead->second);
    followers = std::move(shared->second.followers);
    shared_.erase(shared);
    leading_.erase(lead);
  }
  // The leader's first: the store checks a follower's reuse against what it recorded.
  const TaskOutcome& leader = outcomes_.emplace_back(std::move(outcome));
  outcome_reasons_.push_back(reason);
  const TaskOutcome shared = leader;  // emplace_back below may move `leader`
  if (shared.kind == TaskOutcome::Kind::succeeded && shared.source_key)
    made_.insert_or_assign(*shared.source_key, shared);
  for (const auto& follower : followers) {
    if (cancelled_.contains(follower.task_id)) {
      drop(follower.task_id);
      continue;
    }
    outcomes_.push_back(follower_outcome(shared, follower));
    outcome_reasons_.push_back(reason);
  }
}

core::TaskOutcome Pipeline::follower_outcome(const TaskOutcome& leader,
                                             const core::ClaimedTask& follower) const {
  TaskOutcome mine = leader;
  mine.task_id = follower.task_id;
  mine.request_id = follower.request_id;
  if (mine.kind == TaskOutcome::Kind::succeeded) {
    mine.output_name = output_name(follower, extension_of(leader.output_name.value_or("")));
    mine.reused = core::Reuse::duplicate;
    mine.sizes = size_names(follower);
  }
  return mine;
}

void Pipeline::flush_outcomes() {
  std::vector<TaskOutcome> batch;
  std::vector<FailureReason> reasons;
  {
    core::MutexLock lock(mutex_);
    batch.swap(outcomes_);
    reasons.swap(outcome_reasons_);
  }
  if (batch.empty()) return;
  std::vector<std::string> completed;
  try {
    completed = store_.finish_tasks(batch, core::now_ms());
  } catch (...) {
    core::MutexLock lock(mutex_);  // keep them for the next try
    outcomes_.insert(outcomes_.begin(), std::make_move_iterator(batch.begin()),
                     std::make_move_iterator(batch.end()));
    outcome_reasons_.insert(outcome_reasons_.begin(), reasons.begin(), reasons.end());
    throw;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& o = batch[i];
    if (o.kind == TaskOutcome::Kind::succeeded) metrics_->images_succeeded().inc();
    if (o.kind == TaskOutcome::Kind::failed) {
      metrics_->images_failed().inc();
      metrics_->image_failures(reasons[i]).inc();
      log::for_request(o.request_id)
          .info("image task {} failed ({}): {}", o.task_id, metrics::to_string(reasons[i]),
                o.error.value_or(""));
    }
  }
  {
    core::MutexLock lock(mutex_);
    for (const auto& o : batch) {
      in_hand_.erase(o.task_id);
      cancelled_.erase(o.task_id);
      // Written: from now on a claim of the same source comes with its sources row.
      if (o.source_key) {
        const auto made = made_.find(*o.source_key);
        if (made != made_.end() && made->second.task_id == o.task_id) made_.erase(made);
      }
    }
    if (in_hand_.empty()) drained_cv_.notify_all();
  }
  for (const auto& id : completed) log::for_request(id).info("request completed");
  if (!completed.empty() && on_completed_) on_completed_(completed);
}

}  // namespace imgbatch::pipeline
