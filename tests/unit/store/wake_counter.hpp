// Counts the calls of a Store::watch_new_work callback, which come on the watch's own
// thread, and waits for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace imgbatch::store::testing {

class WakeCounter {
 public:
  std::function<void()> callback() {
    return [this] {
      std::lock_guard lock(mutex_);
      ++count_;
      changed_.notify_all();
    };
  }
  int count() {
    std::lock_guard lock(mutex_);
    return count_;
  }
  // True once the count exceeds `than`, false after a generous wait.
  bool wait_above(int than, std::chrono::seconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_ > than; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

}  // namespace imgbatch::store::testing
