// Runs the real imgbatch binary as a child process for black-box tests: start it with
// arguments, wait until its HTTP port answers, stop it with a signal (SIGTERM for a clean
// stop, SIGKILL for a crash), and read what it logged.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace imgbatch::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

class ChildProcess {
 public:
  // Starts `program args…`; stdout and stderr go to `log_path`.
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& log_path);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // True once a TCP connection to 127.0.0.1:port succeeds within `timeout`.
  bool wait_for_port(int port, std::chrono::milliseconds timeout) const;
  void signal(int sig) const;
  // Waits for exit; returns the exit status (128 + signal when killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

}  // namespace imgbatch::testing
