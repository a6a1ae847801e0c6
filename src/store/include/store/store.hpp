// Store: everything that must survive a crash. Requests, products, one task per image,
// leases on claimed tasks, and webhook deliveries. A process may be killed at any point;
// whatever it had claimed comes back as soon as its death is noticed (pipeline, and
// announce_process below), at the latest when its lease expires, and whatever it had
// finished is already here. Every backend (sqlite/, postgres/, …) passes the same
// conformance tests.
//
// Methods are safe to call from several threads at once. Failures of the database
// itself (disk full, connection lost) are thrown as StoreError: callers at the edge turn
// them into a 503 or a retried loop iteration; they are not a user's mistake.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A subscription made by Store::watch_new_work. Destroying it ends the subscription: it
// returns once no callback is running, and none runs afterwards.
class WorkWatch {
 public:
  virtual ~WorkWatch() = default;
};

// Made by Store::announce_process: while it lives, the database counts its owner among
// the running processes. Destroying it ends that, and says goodbye where it can.
class ProcessPresence {
 public:
  virtual ~ProcessPresence() = default;
  // False while the database cannot see it (its connection is being re-established): the
  // owner should then not judge others, who may be in the same gap.
  virtual bool present() const { return true; }
  // Makes the destructor leave no goodbye, so that others find the owner gone and take
  // what it still holds (it could not hand its leases back itself).
  virtual void leave_without_goodbye() {}
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores the request, its products and one pending task per image in one transaction.
  // With an idempotency key seen within the last 24 h from the same owner_key (tenants
  // never see each other's keys): `replayed` with the earlier id when the fingerprint matches,
  // `key_conflict` when it does not; nothing is stored.
  virtual core::CreateOutcome create_request(const core::NewRequest& request) = 0;

  virtual std::optional<core::RequestRecord> get_request(const std::string& id) = 0;

  // Products in input order, with their images, for [offset, offset + limit).
  virtual std::vector<core::ProductRecord> get_products(const std::string& request_id, int offset,
                                                        int limit) = 0;

  // The blob key of the full-size image of image `image` of product `product`, once it is
  // done, in a request that is not deleted: its own (REQUEST/NAME) or the one it shares
  // with other requests (docs/architecture.md, "Shared sources and outputs").
  virtual std::optional<std::string> image_key(const std::string& request_id, int product,
                                               int image) = 0;

  // Newest first.
  virtual std::vector<core::RequestRecord> list_requests(int limit, int offset) = 0;
  // Newest first, only those whose owner_key is `owner_key` (one tenant's requests).
  virtual std::vector<core::RequestRecord> list_requests_of(const std::string& owner_key, int limit,
                                                            int offset) = 0;

  // Deletes an ended request (completed, failed or cancelled; core::has_ended), in two
  // stages so that no transaction grows with the request's size. This call only marks it
  // as deleted and drops its webhook deliveries, in one small transaction: from then on no
  // read (get, list, products, idempotency keys) sees it, as if it had never existed.
  // purge_step then removes its rows in chunks, queueing the keys of its stored images
  // (pending_blob_deletions) in the transaction that removes their tasks — only the images
  // no remaining task names, shared ones staying with their last reference — so a crash
  // leaves them queued for the next sweep, never orphaned; a marked request half purged stays
  // invisible and is finished by the next step, in this process or another.
  enum class DeleteOutcome { deleted, not_found, not_ended };
  virtual DeleteOutcome delete_request(const std::string& id) = 0;
  // Cancels a request that has not ended (DELETE /requests/ID), in one transaction: it
  // becomes `cancelled`; its pending and running tasks end as failed with the error
  // "cancelled" (not counted in its progress), so they are never claimed again and an
  // outcome reported for them later changes nothing (finish_tasks queues the image of such
  // a late success for removal); and a webhook delivery is queued if it has a webhook URL.
  // `already_ended` (nothing changed) for a request that had ended.
  enum class CancelOutcome { cancelled, not_found, already_ended };
  virtual CancelOutcome cancel_request(const std::string& id, core::TimeMs now) = 0;
  // Of these tasks, those whose request is cancelled: a worker holding them drops them
  // (no download starts, nothing is stored).
  virtual std::vector<std::int64_t> cancelled_tasks(const std::vector<std::int64_t>& task_ids) = 0;

  // One step of the retention pass, in one short transaction. With `ended_before`, first
  // marks as deleted (as delete_request) up to `chunk` requests that ended (their last
  // change, updated_at) before it. Then removes up to `chunk` rows — tasks first, then
  // products, then the request row once it has no more — of the oldest marked request.
  // One process at a time runs steps: on PostgreSQL a step that finds another one running
  // (a transaction-level advisory lock) returns `busy` at once and does nothing; on SQLite
  // the write lock of the one file orders them.
  struct PurgeStep {
    bool busy = false;  // another process is running a step; nothing was done
    int marked = 0;     // requests marked as deleted by this step
    int removed = 0;    // rows removed: tasks, products and request rows
    bool more = false;  // something is left to mark or to remove: call again
  };
  virtual PurgeStep purge_step(std::optional<core::TimeMs> ended_before, core::TimeMs now,
                               int chunk) = 0;

  // Up to `limit` keys of stored images waiting to be removed, oldest first.
  virtual std::vector<std::string> pending_blob_deletions(int limit) = 0;
  // Forgets keys whose images are removed (or were never there).
  virtual void forget_blob_deletions(const std::vector<std::string>& keys) = 0;

  // API keys. Stores a new key; false (and nothing stored) when a key that is not revoked
  // already has its name.
  virtual bool create_api_key(const core::NewApiKey& key) = 0;
  // Every key, revoked ones too, oldest first.
  virtual std::vector<core::ApiKeyRecord> list_api_keys() = 0;
  // Revokes the key of that name that is not revoked yet; false when there is none. Takes
  // effect at once for every process: find_api_key reads the database on each call.
  virtual bool revoke_api_key(const std::string& name, core::TimeMs now) = 0;
  // The key, not revoked, whose token has this hash (an indexed lookup), or nullopt.
  virtual std::optional<core::ApiKeyRecord> find_api_key(const std::string& token_hash) = 0;
  // True once any key has been created, even if all have been revoked since: revoking
  // the last key must not open the service to everyone.
  virtual bool any_api_key() = 0;

  // Claims up to `max` pending tasks whose retry time has come, shared among the requests
  // by fair turns (store/common/turns.hpp: tenants in turn, then each tenant's requests in
  // turn; each request's tasks in image order), leasing them to `owner` until
  // now + lease_ms. Their requests become `processing`. A task whose source key is held by
  // a running task of another owner under a live lease (lease_expires > now) is passed
  // over: it waits for that download (docs/architecture.md, "Shared sources and outputs").
  // Concurrent claims never both take tasks of one source that neither held before.
  virtual std::vector<core::ClaimedTask> claim_tasks(const std::string& owner, int max,
                                                     core::TimeMs now, core::TimeMs lease_ms) = 0;

  // Extends the leases that `owner` still holds; returns how many were extended.
  virtual int renew_leases(const std::string& owner, const std::vector<std::int64_t>& task_ids,
                           core::TimeMs until) = 0;

  // Puts back to pending every running task whose lease ended before `now`.
  virtual int release_expired_leases(core::TimeMs now) = 0;

  // Puts back to pending every task leased to `owner` (a graceful shutdown, or an owner
  // known to be dead).
  virtual int release_leases(const std::string& owner) = 0;

  // The owners of the running tasks, each once.
  virtual std::vector<std::string> lease_owners() = 0;

  // Makes `owner` known to the database as running, for as long as the returned object
  // lives and in a form that cannot outlive the process: on PostgreSQL, a session-level
  // advisory lock on a connection of its own, which the server drops when that
  // connection ends, however the process ended (kill -9, crash, host gone). Kept up (and
  // taken again after the connection breaks) by a thread of the object's own. SQLite has
  // no sessions to tell by: there, the object does nothing.
  virtual std::unique_ptr<ProcessPresence> announce_process(const std::string& owner) = 0;

  // Puts back to pending the tasks of every announced owner but `self` whose presence
  // ended without a goodbye, and forgets those owners. Returns how many tasks were put
  // back; always 0 on SQLite.
  virtual int release_departed_owners(const std::string& self, core::TimeMs now) = 0;

  // Records outcomes in one transaction. An outcome for a task no longer leased as
  // running (its lease expired and someone else took it) still counts if the task has
  // not ended; a second outcome for an ended task is ignored. When the last task of a
  // request ends, the request becomes `completed` and, if it has a webhook URL, a
  // delivery is created in the same transaction. A succeeded outcome records the image the
  // task uses (blob_key, its own REQUEST/NAME by default) and, with a source key and a
  // SHA-256, what is now known of its source; a reused one counts only while its source
  // still names that image, else the task goes back to pending at once, to be made again
  // (docs/architecture.md, "Shared sources and outputs"). Returns the ids of the requests
  // that this call completed (each id is returned once, ever).
  virtual std::vector<std::string> finish_tasks(const std::vector<core::TaskOutcome>& outcomes,
                                                core::TimeMs now) = 0;

  // Deliveries due at `now` and not delivered, leased until now + lease_ms so that
  // only one dispatcher sends each at a time.
  virtual std::vector<core::Delivery> claim_deliveries(core::TimeMs now, int max,
                                                       core::TimeMs lease_ms) = 0;
  virtual void record_delivery_attempt(const core::DeliveryAttempt& attempt, core::TimeMs now) = 0;

  // Number of tasks pending (claimable now or later) and running.
  struct QueueDepth {
    std::int64_t pending = 0;
    std::int64_t running = 0;
  };
  virtual QueueDepth queue_depth() = 0;

  // True when the database answers.
  virtual bool ping() = 0;

  // Calls `on_new_work` soon after this store makes tasks claimable: a request stored, a
  // retry scheduled, leases released, a task ended whose source has pending tasks (which
  // claims of other owners passed over). PostgreSQL hears of those made by any process
  // using the database; SQLite of those made through this Store object. It runs on a
  // thread of the watch's own and must be quick and thread-safe (wake the workers, nothing more).
  // It is a hint that shortens the workers' idle wait, never a replacement for it: wake-ups may be
  // merged or spurious, and the ones that happen while the database is unreachable are lost (one
  // call follows each reconnection, to make up for them).
  virtual std::unique_ptr<WorkWatch> watch_new_work(std::function<void()> on_new_work) = 0;
};

// How a Store talks to its database. Only PostgreSQL reads these; SQLite has no server
// that could keep a call waiting (its own busy timeout bounds a wait for the file lock).
struct OpenOptions {
  // Set on every PostgreSQL connection at start-up, so that no call waits without end:
  // the server cancels a statement that runs longer than statement_timeout, or that waits
  // longer than lock_timeout for a lock another session holds; the call then throws
  // StoreError, as for a database that is unavailable for a moment. Zero sets nothing
  // (the URI's `options`, the role's, the database's or the server's setting applies).
  // The defaults are core::Config's (docs/configuration.md says why these values).
  std::chrono::milliseconds statement_timeout{60'000};
  std::chrono::milliseconds lock_timeout{10'000};
};

// Opens the backend named by a URI: `sqlite:PATH`, or `postgresql://…` / `postgres://…`
// (a libpq connection URI, passed to libpq as is). Creates or migrates the schema. Throws
// StoreError with a clear message (never showing a password) when the URI is unknown or
// the database cannot be opened.
std::unique_ptr<Store> open_store(const std::string& uri, const OpenOptions& options = {});

// The URI as it may be logged or shown: a password in it (user:PASSWORD@ or ?password=)
// becomes "***"; anything else is kept.
std::string redact_uri(const std::string& uri);

}  // namespace imgbatch::store
