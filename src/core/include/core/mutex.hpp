// A std::mutex that clang's thread-safety analysis understands (core/thread_annotations.hpp),
// and its scoped lock, which also waits on condition variables. Waits take no predicate:
// the analysis cannot see that a predicate lambda runs with the mutex held, so callers
// write the loop themselves, where it can:
//
//   core::MutexLock lock(mutex_);
//   while (queue_.empty() && !stopping_) lock.wait(queue_cv_);
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/thread_annotations.hpp"

namespace imgbatch::core {

class IMGBATCH_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() IMGBATCH_ACQUIRE() { mutex_.lock(); }
  void unlock() IMGBATCH_RELEASE() { mutex_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mutex_;
};

// Holds `mutex` from construction to destruction (a lock_guard). The waits release it
// while blocked and hold it again when they return; they may wake spuriously.
class IMGBATCH_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) IMGBATCH_ACQUIRE(mutex) : lock_(mutex.mutex_) {}
  ~MutexLock() IMGBATCH_RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void wait(std::condition_variable& cv) { cv.wait(lock_); }

  // False once `deadline` has passed.
  template <class Clock, class Duration>
  bool wait_until(std::condition_variable& cv,
                  const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv.wait_until(lock_, deadline) == std::cv_status::no_timeout;
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace imgbatch::core
