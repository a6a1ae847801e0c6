// How a pipeline names itself as a lease owner, and how it tells that another owner is a
// process of this host that is gone (so its leases need not wait out their expiry).
#pragma once

#include <string>
#include <string_view>

namespace imgbatch::pipeline {

// This process's identity (core/process_identity.hpp) and a number that tells apart the
// pipelines of one process: "HOST:BOOT:PIDNS:PID:START/N". Differs between processes and
// restarts.
std::string make_owner_id();

// True when `owner`, named by make_owner_id, is a process of this host (and PID namespace)
// that certainly no longer runs. Owners named otherwise are never gone.
bool owner_is_gone(std::string_view owner);

}  // namespace imgbatch::pipeline
