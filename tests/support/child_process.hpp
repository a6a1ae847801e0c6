// Runs the real imgbatch binary (or another program, such as a Node receiver) as a child
// process for black-box tests: start it with arguments and extra environment variables,
// wait until its HTTP port answers, stop it with a signal (SIGTERM for a clean stop,
// SIGKILL for a crash), and read what it logged.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace imgbatch::test_support {

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

using Environment = std::vector<std::pair<std::string, std::string>>;

// `program args…`, run through `wrapper` (a command and its options) when it is not empty.
std::vector<std::string> wrapped_command(const std::vector<std::string>& wrapper,
                                         const std::string& program,
                                         const std::vector<std::string>& args);

// unshare(1) options that run a program as PID 1 of a PID namespace of its own, with /proc
// to match, killed when unshare is: a process in a container, as other processes on the
// same machine see it (they cannot judge its PIDs). Empty when this machine cannot make
// PID namespaces (unshare needs root): the caller skips.
std::vector<std::string> own_pid_namespace_wrapper();

class ChildProcess {
 public:
  // Starts `program args…` (`program` is a path) with this process's environment plus
  // `env` (which wins on a clash); stdout and stderr go to `log_path`.
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& log_path, const Environment& env = {});
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
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

}  // namespace imgbatch::test_support
