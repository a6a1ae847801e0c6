// Who a process is, written so that another process can later tell whether it still runs:
// its host name (for people), the boot of the machine it runs on, its PID namespace, its
// PID and its start time. The PID alone is not enough (PIDs are reused), the host name
// neither (cloned machines, or containers on two hosts, may share one) and the namespace
// neither (the first PID namespace has the same inode on every Linux machine): the boot
// id (/proc/sys/kernel/random/boot_id) tells machines and boots apart. A verdict of
// "gone" is given only when the boot and the namespace are ours and the PID says so. Lease owners
// are named this way (pipeline), so that a process restarted after kill -9 takes its predecessor's
// work back at once instead of waiting for the lease.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::core {

struct ProcessIdentity {
  std::string host;                 // gethostname(), with ':' and '/' replaced
  std::string boot;                 // the boot id's first 16 hex digits; "" when unknown
  std::uint64_t pid_namespace = 0;  // inode of /proc/self/ns/pid; 0 when unknown
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat: clock ticks after boot

  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// This process, read once.
const ProcessIdentity& this_process();

// The identity of the process `pid` of this machine and PID namespace, while it exists (a
// zombie still has one); nullopt when it cannot be read.
std::optional<ProcessIdentity> process_identity_of(pid_t pid);

// "HOST:BOOT:PIDNS:PID:START", parsed back by parse_process_identity.
std::string to_string(const ProcessIdentity& process);
std::optional<ProcessIdentity> parse_process_identity(std::string_view text);

// True only when `process` certainly no longer runs: it ran in this boot of this machine,
// in this PID namespace, and now no process has its PID, or the one that has it started
// at another time (the PID was reused). Anything uncertain (another machine, boot or
// namespace, /proc unreadable) is false: the caller falls back to a timeout.
bool certainly_gone(const ProcessIdentity& process);

}  // namespace imgbatch::core
