#include "blocking_pool.hpp"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace imgbatch::http {

BlockingPool::BlockingPool(int threads, std::size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

BlockingPool::~BlockingPool() { stop(); }

bool BlockingPool::try_submit(std::function<void()> work) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(work));
  }
  wake_.notify_one();
  return true;
}

void BlockingPool::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

void BlockingPool::run() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    // A route's own failures are answered inside `work`; what escapes (a connection
    // gone while answering) must not end the process, as it would on a bare thread.
    try {
      work();
    } catch (const std::exception& e) {
      spdlog::error("answering a request: {}", e.what());
    } catch (...) {
      spdlog::error("answering a request: unknown exception");
    }
  }
}

}  // namespace imgbatch::http
