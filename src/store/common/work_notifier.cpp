#include "common/work_notifier.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>

namespace imgbatch::store::common {

struct WorkNotifier::Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t generation = 0;  // one more per notify()
};

class WorkNotifier::Watch final : public WorkWatch {
 public:
  Watch(std::shared_ptr<Shared> shared, std::function<void()> on_new_work)
      : shared_(std::move(shared)), on_new_work_(std::move(on_new_work)) {
    {
      std::lock_guard lock(shared_->mutex);
      seen_ = shared_->generation;  // only work announced from now on
    }
    thread_ = std::thread([this] { run(); });
  }

  ~Watch() override {
    {
      std::lock_guard lock(shared_->mutex);
      stop_ = true;
    }
    shared_->changed.notify_all();
    thread_.join();  // after this no callback runs
  }

 private:
  void run() {
    std::unique_lock lock(shared_->mutex);
    while (true) {
      shared_->changed.wait(lock, [this] { return stop_ || shared_->generation != seen_; });
      if (stop_) return;
      seen_ = shared_->generation;
      lock.unlock();
      on_new_work_();
      lock.lock();
    }
  }

  std::shared_ptr<Shared> shared_;
  std::function<void()> on_new_work_;
  bool stop_ = false;       // guarded by shared_->mutex
  std::uint64_t seen_ = 0;  // guarded by shared_->mutex
  std::thread thread_;
};

WorkNotifier::WorkNotifier() : shared_(std::make_shared<Shared>()) {}

WorkNotifier::~WorkNotifier() = default;

std::unique_ptr<WorkWatch> WorkNotifier::watch(std::function<void()> on_new_work) {
  return std::make_unique<Watch>(shared_, std::move(on_new_work));
}

void WorkNotifier::notify() {
  {
    std::lock_guard lock(shared_->mutex);
    ++shared_->generation;
  }
  shared_->changed.notify_all();
}

}  // namespace imgbatch::store::common
