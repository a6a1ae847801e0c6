// What the throwaway test servers (tests/support/postgres_cluster, ceph_cluster) share:
// stopping a server process of theirs, and their temporary folders, which outlive a test
// process killed with SIGKILL though their servers die with it. Each folder holds
// owner.pid, the test process that made it; the next server to start removes the folders
// whose owner is gone.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string_view>
#include <thread>

namespace imgbatch::test_support {

inline bool process_alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// Sends `signal` to a child server process and reaps it; SIGKILL when it has not exited
// within `timeout`. Sets `pid` to 0.
inline void stop_server_process(pid_t& pid, int signal, std::chrono::milliseconds timeout) {
  if (pid <= 0) return;
  kill(pid, signal);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid = 0;
}

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
