// The temporary folders of the test servers (tests/support/postgres_cluster, ceph_cluster)
// outlive a test process killed with SIGKILL, though their servers die with it. Each
// folder holds owner.pid, the test process that made it; the next server to start removes
// the folders whose owner is gone.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string_view>

namespace imgbatch::test_support {

inline bool process_alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// The first number in a pid file (0 when it cannot be read).
inline pid_t read_pid_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// Removes the folders BASE/PREFIX* whose owner.pid names a dead process, unless
// `still_in_use` (when given) says a process of theirs still runs.
inline void sweep_stale_folders(
    const std::filesystem::path& base, std::string_view prefix,
    const std::function<bool(const std::filesystem::path&)>& still_in_use = {}) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(base, error)) {
    if (!entry.path().filename().string().starts_with(prefix)) continue;
    const auto owner = entry.path() / "owner.pid";
    if (!std::filesystem::exists(owner)) continue;  // being set up right now, or not ours
    if (process_alive(read_pid_file(owner))) continue;
    if (still_in_use && still_in_use(entry.path())) continue;
    std::filesystem::remove_all(entry.path(), error);
  }
}

}  // namespace imgbatch::test_support
