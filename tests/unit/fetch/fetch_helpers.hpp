// Helpers shared by the fetcher tests: waiting for callbacks with generous bounds.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/failure.hpp"
#include "fetch/fetcher.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::fetch::testing_helpers {

// Anything that should end in well under a second gets this long before the test fails
// instead of hanging.
inline constexpr std::chrono::seconds kPatience{60};

using Kind = core::Failure::Kind;

// The kind of a download's failure; none when it succeeded.
inline std::optional<Kind> kind_of(const FetchResult& r) {
  return r.failure ? std::optional<Kind>(r.failure->kind) : std::nullopt;
}

inline FetchResult fetch_one(Fetcher& fetcher, const std::string& url) {
  auto promise = std::make_shared<std::promise<FetchResult>>();
  auto future = promise->get_future();
  fetcher.fetch(url, [promise](FetchResult&& r) { promise->set_value(std::move(r)); });
  if (future.wait_for(kPatience) != std::future_status::ready) {
    ADD_FAILURE() << "no callback for " << url;
    FetchResult none;
    none.failure = core::make_failure(Kind::download_error, "no callback");
    return none;
  }
  return future.get();
}

// Collects the results of many fetches, counting the calls of each callback.
class Collector {
 public:
  explicit Collector(std::size_t n) : results_(n), calls_(n, 0), threads_(n) {}

  FetchCallback callback(std::size_t i) {
    return [this, i](FetchResult&& r) {
      std::lock_guard lock(mutex_);
      results_[i] = std::move(r);
      ++calls_[i];
      threads_[i] = std::this_thread::get_id();
      ++done_;
      cv_.notify_all();
    };
  }

  bool wait_all() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kPatience, [&] { return done_ >= results_.size(); });
  }

  const std::vector<FetchResult>& results() const { return results_; }
  const std::vector<int>& calls() const { return calls_; }
  const std::vector<std::thread::id>& threads() const { return threads_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<FetchResult> results_;
  std::vector<int> calls_;
  std::vector<std::thread::id> threads_;
  std::size_t done_ = 0;
};

inline std::string photo(const std::string& name) {
  std::ifstream in(test_support::TestOrigin::photos_dir() / name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Limits for tests against the loopback origin.
inline FetchLimits loopback_limits() {
  FetchLimits limits;
  limits.allow_private_networks = true;
  return limits;
}

}  // namespace imgbatch::fetch::testing_helpers
