// The SQLite backend: one file, WAL mode. One writer connection behind a mutex takes
// every write (SQLite admits one writer at a time anyway, and BEGIN IMMEDIATE makes
// writers in other processes queue on busy_timeout); reads go through a pool of
// read-only connections and proceed while a write is in progress; a background thread
// checkpoints the WAL so that no write pays for it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/lease.hpp"
#include "common/work_notifier.hpp"
#include "sqlite/checkpointer.hpp"
#include "sqlite/connection.hpp"
#include "store/store.hpp"

namespace imgbatch::store::sqlite {

class SqliteStore final : public Store {
 public:
  // Opens or creates the file (its folder must exist) and migrates the schema.
  explicit SqliteStore(const std::string& path);
  ~SqliteStore() override;

  core::CreateOutcome create_request(const core::NewRequest& request) override;
  std::optional<core::RequestRecord> get_request(const std::string& id) override;
  std::vector<core::ProductRecord> get_products(const std::string& request_id, int offset,
                                                int limit) override;
  std::optional<std::string> image_key(const std::string& request_id, int product,
                                       int image) override;
  std::vector<core::RequestRecord> list_requests(int limit, int offset) override;
  std::vector<core::RequestRecord> list_requests_of(const std::string& owner_key, int limit,
                                                    int offset) override;
  bool create_api_key(const core::NewApiKey& key) override;
  std::vector<core::ApiKeyRecord> list_api_keys() override;
  bool revoke_api_key(const std::string& name, core::TimeMs now) override;
  std::optional<core::ApiKeyRecord> find_api_key(const std::string& token_hash) override;
  bool any_api_key() override;
  DeleteOutcome delete_request(const std::string& id) override;
  CancelOutcome cancel_request(const std::string& id, core::TimeMs now) override;
  std::vector<std::int64_t> cancelled_tasks(const std::vector<std::int64_t>& task_ids) override;
  PurgeStep purge_step(std::optional<core::TimeMs> ended_before, core::TimeMs now,
                       int chunk) override;
  std::vector<std::string> pending_blob_deletions(int limit) override;
  void forget_blob_deletions(const std::vector<std::string>& keys) override;
  std::vector<core::ClaimedTask> claim_tasks(const std::string& owner, int max, core::TimeMs now,
                                             core::TimeMs lease_ms) override;
  int renew_leases(const std::string& owner, const std::vector<std::int64_t>& task_ids,
                   core::TimeMs until) override;
  int release_expired_leases(core::TimeMs now) override;
  int release_leases(const std::string& owner) override;
  std::vector<std::string> lease_owners() override;
  // A SqlitePresence: a locked file in DB.owners/ (sqlite/presence.hpp).
  std::unique_ptr<ProcessPresence> announce_process(const std::string& owner) override;
  // Owners whose presence file's lock is free.
  int release_departed_owners(const std::string& self, core::TimeMs now) override;
  std::vector<std::string> finish_tasks(const std::vector<core::TaskOutcome>& outcomes,
                                        core::TimeMs now) override;
  std::vector<core::Delivery> claim_deliveries(core::TimeMs now, int max,
                                               core::TimeMs lease_ms) override;
  void record_delivery_attempt(const core::DeliveryAttempt& attempt, core::TimeMs now) override;
  QueueDepth queue_depth() override;
  bool ping() override;
  // Woken by this store's writes (common::WorkNotifier). Writes that another process makes
  // to the same file wake nobody here: the workers' idle wait finds them.
  std::unique_ptr<WorkWatch> watch_new_work(std::function<void()> on_new_work) override;

 private:
  // A reader connection borrowed from the pool for the length of one call.
  using ReaderLease = common::Lease<SqliteStore, Connection>;
  friend ReaderLease;
  ReaderLease reader();
  void give_back(std::unique_ptr<Connection> connection);

  std::string path_;
  std::unique_ptr<Checkpointer> checkpointer_;  // outlives writer_, whose hook points at it
  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
  common::WorkNotifier notifier_;
};

}  // namespace imgbatch::store::sqlite
