// BlockingPool: threads for the routes whose handler may wait on the network (GET
// /images reading from an object store). The server answers every request on two
// threads; one slow or hung storage call there would hold up uploads, status and health
// checks alike. Work beyond the queue's bound is refused, not queued without end: the
// caller answers 503 instead.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace imgbatch::http {

class BlockingPool {
 public:
  BlockingPool(int threads, std::size_t max_queued);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // False when the queue is full or the pool stopped: `work` will not run.
  bool try_submit(std::function<void()> work);

  // Drops what is queued (those requests go unanswered: their connections close with the
  // server) and waits for the work in progress.
  void stop();

 private:
  void run();

  std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace imgbatch::http
