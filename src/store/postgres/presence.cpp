#include "postgres/presence.hpp"

#include "core/types.hpp"

namespace imgbatch::store::postgres {

namespace {

const std::string kLockSpace = std::to_string(kPresenceLockSpace);

// The key is this session's backend PID, which no other live session can hold a lock
// under (each takes only its own), so taking it never waits. The row becomes visible to
// others only when this statement commits, by which time the lock is held: nobody sees
// the row with its lock free while the owner lives. After a reconnection the owner's old
// row (with the old, now free, key) is updated in place.
constexpr const char* kAnnounce =
    "INSERT INTO live_processes (owner, lock_key, since)"
    " VALUES ($1, pg_backend_pid(), $2)"
    " ON CONFLICT (owner) DO UPDATE SET lock_key = EXCLUDED.lock_key, since = EXCLUDED.since"
    " RETURNING pg_advisory_lock($3::integer, lock_key)";

constexpr const char* kGoodbye = "DELETE FROM live_processes WHERE owner = $1";

}  // namespace

PostgresPresence::PostgresPresence(std::string uri, SessionSettings settings, std::string owner)
    : owner_(std::move(owner)),
      connection_(std::move(uri), settings,
                  KeptConnection::Hooks{
                      .on_connect =
                          [this](KeptConnection& connection, bool) {
                            return connection.run(
                                kAnnounce, {owner_, std::to_string(core::now_ms()), kLockSpace});
                          },
                      .on_notify = nullptr,
                      .on_close =
                          [this](KeptConnection& connection) {
                            if (goodbye_) connection.run(kGoodbye, {owner_}, /*at_close=*/true);
                          }}) {}

}  // namespace imgbatch::store::postgres
