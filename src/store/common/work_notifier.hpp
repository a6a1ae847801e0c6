// The in-process counterpart of PostgreSQL's LISTEN/NOTIFY, for a backend whose writers
// all live in this process (SQLite): notify() after a commit that made tasks claimable
// wakes every watch made by watch(). Each watch has a thread of its own that calls its
// callback, as a ListenWatch does, so a store call never runs a caller's callback on the
// caller's thread (which may hold locks of its own). Notifications that arrive while a
// callback runs are merged into one more call.
#pragma once

#include <functional>
#include <memory>

#include "store/store.hpp"

namespace imgbatch::store::common {

class WorkNotifier {
 public:
  WorkNotifier();
  ~WorkNotifier();
  WorkNotifier(const WorkNotifier&) = delete;
  WorkNotifier& operator=(const WorkNotifier&) = delete;

  // A watch may outlive the notifier; it is then never called again.
  std::unique_ptr<WorkWatch> watch(std::function<void()> on_new_work);
  void notify();

 private:
  struct Shared;
  class Watch;
  std::shared_ptr<Shared> shared_;
};

}  // namespace imgbatch::store::common
