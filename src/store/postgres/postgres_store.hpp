// The PostgreSQL backend, for several imgbatch processes sharing one database. It keeps
// the SQLite backend's schema and semantics (sqlite/sqlite_store.cpp): what SQLite does in
// one transaction is one transaction here. SQLite gets its exclusion from a single writer;
// here it comes from row locks: claims take tasks with FOR UPDATE SKIP LOCKED, so
// claimers in many processes never wait for each other nor take the same task, and the
// request row's lock makes completion happen exactly once.
//
// Calls borrow a connection from a small pool (ConnectionPool). When a connection turns
// out to be broken the call runs again, once, on a new one, if that is safe: the server
// had rolled the transaction back. If the link broke during COMMIT, whether the work was
// saved is unknown, so the call throws StoreError instead. A deadlock or serialization
// failure is retried a few times. While the server is down calls throw StoreError; once
// it is back they succeed again, with no restart of the process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postgres/conninfo.hpp"
#include "postgres/pool.hpp"
#include "store/store.hpp"

namespace imgbatch::store::postgres {

class PostgresStore final : public Store {
 public:
  // Connects to the libpq URI and migrates the schema. Throws StoreError when it cannot.
  // Every connection, the LISTEN one too, starts with `settings`.
  explicit PostgresStore(const std::string& uri, SessionSettings settings = {});
  ~PostgresStore() override;

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
  // A PostgresPresence (presence.hpp).
  std::unique_ptr<ProcessPresence> announce_process(const std::string& owner) override;
  // Owners listed in live_processes whose advisory lock can be taken: their connection,
  // and so their process, is gone.
  int release_departed_owners(const std::string& self, core::TimeMs now) override;
  std::vector<std::string> finish_tasks(const std::vector<core::TaskOutcome>& outcomes,
                                        core::TimeMs now) override;
  std::vector<core::Delivery> claim_deliveries(core::TimeMs now, int max,
                                               core::TimeMs lease_ms) override;
  void record_delivery_attempt(const core::DeliveryAttempt& attempt, core::TimeMs now) override;
  QueueDepth queue_depth() override;
  bool ping() override;
  std::unique_ptr<WorkWatch> watch_new_work(std::function<void()> on_new_work) override;

 private:
  // Runs `body(connection)` with the retries described above. `body` may run more than
  // once, so it must build its result from scratch each time.
  template <class Body>
  auto run(std::string_view doing, Body&& body);

  std::string uri_;
  SessionSettings settings_;
  ConnectionPool pool_;
};

}  // namespace imgbatch::store::postgres
