// Who a process is, written so that another process can later tell whether it still runs:
// its host, its PID namespace, its PID and its start time. The PID alone is not enough
// (PIDs are reused) and neither is the host name alone (containers on one machine may
// share a name but not their PIDs), so a verdict of "gone" is given only when all of them
// say so. Lease owners are named this way (pipeline), so that a process restarted after
// kill -9 takes its predecessor's work back at once instead of waiting for the lease.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::core {

struct ProcessIdentity {
  std::string host;                 // gethostname(), with ':' and '/' replaced
  std::uint64_t pid_namespace = 0;  // inode of /proc/self/ns/pid; 0 when unknown
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat: clock ticks after boot

  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// This process, read once.
const ProcessIdentity& this_process();

// The identity of the process `pid` of this host and PID namespace, while it exists (a
// zombie still has one); nullopt when it cannot be read.
std::optional<ProcessIdentity> process_identity_of(pid_t pid);

// "HOST:PIDNS:PID:START", parsed back by parse_process_identity.
std::string to_string(const ProcessIdentity& process);
std::optional<ProcessIdentity> parse_process_identity(std::string_view text);

// True only when `process` certainly no longer runs: it ran on this host in this PID
// namespace, and now no process has its PID, or the one that has it started at another
// time (the PID was reused). Anything uncertain (another host or namespace, /proc
// unreadable) is false: the caller falls back to a timeout.
bool certainly_gone(const ProcessIdentity& process);

}  // namespace imgbatch::core
