// A process's presence in a PostgreSQL database (Store::announce_process). On a kept
// connection of its own (kept_connection.hpp) it takes a session-level advisory lock keyed
// by that connection's backend PID and lists itself, with that key, in live_processes. The server
// drops the lock the moment that connection ends — the process exited, was killed, or its host
// stopped answering TCP keepalives — so any other process that can take the lock knows
// the owner is gone (PostgresStore::release_departed_owners). After a broken connection
// the lock is taken again under a new key; in that gap others may find the owner gone and
// release its leases, which costs duplicate work, never an outcome. Should a later session
// of the server get a dead owner's backend PID and announce itself, that owner looks alive
// until the new one ends: its leases then wait for their expiry, as before. Destruction
// removes the row, then ends the connection.
#pragma once

#include <atomic>
#include <string>

#include "postgres/kept_connection.hpp"
#include "store/store.hpp"

namespace imgbatch::store::postgres {

// The first key of the two-key advisory locks ("imgb" in ASCII), so that the second, the
// owner's lock_key, cannot collide with the single-key locks of migrations or with other
// software's locks on the same database.
inline constexpr int kPresenceLockSpace = 0x696d6762;

class PostgresPresence final : public ProcessPresence {
 public:
  PostgresPresence(std::string uri, SessionSettings settings, std::string owner);

  // True while the lock is held.
  bool present() const override { return connection_.connected(); }
  void leave_without_goodbye() override { goodbye_ = false; }

 private:
  std::string owner_;
  std::atomic<bool> goodbye_{true};
  KeptConnection connection_;  // last: its thread reads owner_
};

}  // namespace imgbatch::store::postgres
