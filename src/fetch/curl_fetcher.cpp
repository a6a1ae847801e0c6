// The curl Fetcher: one thread drives a curl multi handle. fetch() only queues and wakes
// the thread, so callers never block on the network; the thread keeps at most
// `concurrency` transfers in the multi handle and refills from the queue as they end.
#include <curl/curl.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "core/thread_annotations.hpp"
#include "fetch/address_guard.hpp"
#include "fetch/fetcher.hpp"
#include "transfer.hpp"

namespace imgbatch::fetch {
namespace {

// Upper bound on one wait; curl shortens it to its own next timer.
constexpr int kPollMs = 1000;

FetchResult shutting_down() {
  FetchResult result;
  result.failure = impl::shutting_down_failure();
  return result;
}

FetchResult not_wanted() {
  FetchResult result;
  result.failure =
      core::make_failure(core::Failure::Kind::shutting_down, "not started: no longer wanted");
  return result;
}

FetchResult could_not_start(const std::string& why) {
  FetchResult result;
  result.failure =
      core::make_failure(core::Failure::Kind::download_error,
                         "download failed: could not start the transfer (" + why + ")");
  return result;
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

class CurlFetcher final : public Fetcher {
 public:
  CurlFetcher(FetchLimits limits, int concurrency, AddressFilter filter)
      : settings_{limits, std::move(filter)},
        concurrency_(static_cast<std::size_t>(std::max(1, concurrency))),
        multi_(curl_multi_init()) {
    if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
    // Never more connections than transfers: idle ones are closed to make room, so the
    // number of sockets stays bounded whatever the mix of hosts.
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(concurrency_));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(concurrency_));
    transfers_.reserve(concurrency_);
    idle_.reserve(concurrency_);
    thread_ = std::thread([this] { run(); });
  }

  ~CurlFetcher() override {
    stop();
    transfers_.clear();  // every handle was removed from the multi handle by shut_down()
    curl_multi_cleanup(multi_);
  }

  using Fetcher::fetch;
  void fetch(std::string url, FetchCallback on_done, StillWanted still_wanted,
             Validators validators) IMGBATCH_EXCLUDES(mutex_) override {
    {
      core::MutexLock lock(mutex_);
      if (!closed_) {
        in_flight_.fetch_add(1, std::memory_order_relaxed);
        queue_.push_back(
            {std::move(url), std::move(on_done), std::move(still_wanted), std::move(validators)});
        // The thread looks at the queue whenever it wakes, so only the first item of a
        // burst needs to wake it.
        if (queue_.size() == 1) curl_multi_wakeup(multi_);
        return;
      }
    }
    on_done(shutting_down());
  }

  std::size_t in_flight() const override { return in_flight_.load(std::memory_order_relaxed); }

  void stop() IMGBATCH_EXCLUDES(mutex_) override {
    {
      core::MutexLock lock(mutex_);
      if (!stopping_) {
        stopping_ = true;
        curl_multi_wakeup(multi_);
      }
    }
    if (std::this_thread::get_id() == thread_.get_id()) return;  // from a callback
    std::lock_guard lock(join_mutex_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Queued {
    std::string url;
    FetchCallback on_done;
    StillWanted still_wanted;
    Validators validators;
  };

  void run() {
    while (true) {
      if (!start_queued()) break;
      int running = 0;
      curl_multi_perform(multi_, &running);
      if (collect_finished() > 0) continue;  // freed slots: refill before waiting
      curl_multi_poll(multi_, nullptr, 0, kPollMs, nullptr);
    }
    shut_down();
  }

  // Moves queued downloads into free slots; false once stopping.
  bool start_queued() IMGBATCH_EXCLUDES(mutex_) {
    batch_.clear();
    {
      core::MutexLock lock(mutex_);
      if (stopping_) return false;
      while (!queue_.empty() && active_ + batch_.size() < concurrency_) {
        batch_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (Queued& q : batch_) {
      if (q.still_wanted && !q.still_wanted()) {
        complete(q.on_done, not_wanted());
        continue;
      }
      impl::Transfer* t = acquire();
      if (t == nullptr) {
        complete(q.on_done, could_not_start("out of memory"));
        continue;
      }
      t->begin(std::move(q.url), std::move(q.on_done), std::move(q.validators));
      const CURLMcode code = curl_multi_add_handle(multi_, t->easy());
      if (code != CURLM_OK) {
        FetchCallback done = t->take_callback();
        release(t);
        complete(done, could_not_start(curl_multi_strerror(code)));
      }
    }
    return true;
  }

  // Hands every ended transfer to its callback; returns how many ended.
  int collect_finished() {
    int ended = 0;
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;  // `message` dies with remove_handle
      curl_multi_remove_handle(multi_, easy);
      impl::Transfer* t = impl::Transfer::of(easy);
      FetchResult result = t->finish(code);
      FetchCallback done = t->take_callback();
      release(t);
      complete(done, std::move(result));
      ++ended;
    }
    return ended;
  }

  // Ends running and queued downloads. Callbacks made here may call fetch(): until
  // closed_ is set their downloads join the queue, which is drained last.
  void shut_down() IMGBATCH_EXCLUDES(mutex_) {
    for (auto& t : transfers_) {
      if (!t->active()) continue;
      curl_multi_remove_handle(multi_, t->easy());
      FetchResult result = t->cancel();
      FetchCallback done = t->take_callback();
      release(t.get());
      complete(done, std::move(result));
    }
    std::deque<Queued> queued;
    {
      core::MutexLock lock(mutex_);
      closed_ = true;
      queued.swap(queue_);
    }
    for (Queued& q : queued) complete(q.on_done, shutting_down());
  }

  // A free slot, made on first use; nullptr when curl cannot make one (memory is short).
  impl::Transfer* acquire() {
    if (idle_.empty()) {
      try {
        auto t = std::make_unique<impl::Transfer>(settings_);
        transfers_.push_back(std::move(t));
      } catch (const std::exception&) {
        return nullptr;
      }
      idle_.push_back(transfers_.back().get());
    }
    impl::Transfer* t = idle_.back();
    idle_.pop_back();
    ++active_;
    return t;
  }

  void release(impl::Transfer* t) {
    --active_;
    idle_.push_back(t);
  }

  void complete(FetchCallback& done, FetchResult&& result) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(std::move(result));
  }

  const impl::TransferSettings settings_;
  const std::size_t concurrency_;
  CURLM* const multi_;

  // Fetch thread only.
  std::vector<std::unique_ptr<impl::Transfer>> transfers_;
  std::vector<impl::Transfer*> idle_;
  std::size_t active_ = 0;
  std::vector<Queued> batch_;

  core::Mutex mutex_;
  std::deque<Queued> queue_ IMGBATCH_GUARDED_BY(mutex_);
  bool stopping_ IMGBATCH_GUARDED_BY(mutex_) = false;
  // No more queueing: fetch() answers "shutting down" itself.
  bool closed_ IMGBATCH_GUARDED_BY(mutex_) = false;

  std::atomic<std::size_t> in_flight_{0};
  std::mutex join_mutex_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Fetcher> make_curl_fetcher(FetchLimits limits, int concurrency,
                                           AddressFilter filter) {
  init_curl_once();
  return std::make_unique<CurlFetcher>(limits, concurrency, std::move(filter));
}

std::unique_ptr<Fetcher> make_curl_fetcher(FetchLimits limits, int concurrency) {
  AddressFilter filter;
  if (!limits.allow_private_networks) filter = [](const sockaddr* a) { return blocked_reason(a); };
  return make_curl_fetcher(limits, concurrency, std::move(filter));
}

}  // namespace imgbatch::fetch
