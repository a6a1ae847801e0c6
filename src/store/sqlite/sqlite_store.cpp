#include "sqlite/sqlite_store.hpp"

#include <algorithm>
#include <utility>

#include "common/ended.hpp"
#include "common/new_request.hpp"
#include "common/output_names.hpp"
#include "common/quota.hpp"
#include "common/records.hpp"
#include "common/turns.hpp"
#include "sqlite/batch_insert.hpp"
#include "sqlite/presence.hpp"
#include "sqlite/schema.hpp"
#include "stored_value.hpp"

namespace imgbatch::store::sqlite {

namespace {

constexpr std::string_view kBackend = "sqlite";  // names this backend in errors

// Readers beyond this many are closed when returned instead of kept: enough for the
// HTTP threads of one process, small enough not to hold file descriptors for nothing.
constexpr std::size_t kMaxIdleReaders = 8;

// Store::cancel_request: the tasks that have not ended end as failed, outside the
// request's progress counters (they were never tried to the end). Clearing the lease makes
// renew_leases and a retry outcome miss them; `state IN ('pending', 'running')` in
// finish_tasks makes a late outcome change nothing.
constexpr std::string_view kCancelTasks =
    "UPDATE tasks SET state = 'failed', error = 'cancelled', lease_owner = NULL,"
    " lease_expires = NULL, updated_at = ?2"
    " WHERE request_seq = ?1 AND (state = 'pending' OR state = 'running')";
// finish_tasks: an image stored for a task its request's cancel dropped (the outcome came
// too late to count) is queued for removal (blob_deletions), so it is not left orphaned.
// Only for such a task: a late duplicate of a task that did succeed names the same key,
// which must stay.
constexpr std::string_view kQueueCancelledImage =
    "INSERT OR IGNORE INTO blob_deletions (key)"
    " SELECT requests.id || '/' || ?2 FROM tasks JOIN requests ON requests.seq = tasks.request_seq"
    " WHERE tasks.id = ?1 AND tasks.state = 'failed' AND tasks.output_name IS NULL"
    " AND requests.status = 'cancelled'";

// What finish_tasks writes of a source: a new output (remember) replaces the row; a reuse
// confirmed by its server (confirm: a 304 or the same bytes) only refreshes the validators
// and the time. Parameters: ?1 source key, ?2 sha256, ?3 etag, ?4 last_modified, ?5 blob
// key, ?6 bytes_in, ?7 bytes_out, ?8 quality, ?9 score, ?10 kept, ?11 now.
constexpr std::string_view kRememberSource =
    "INSERT INTO sources (source_key, sha256, etag, last_modified, blob_key, bytes_in,"
    " bytes_out, quality_used, score, kept, checked_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (source_key) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag,"
    " last_modified = excluded.last_modified, blob_key = excluded.blob_key,"
    " bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out,"
    " quality_used = excluded.quality_used, score = excluded.score, kept = excluded.kept,"
    " checked_at = excluded.checked_at";
constexpr std::string_view kConfirmSource =
    "UPDATE sources SET etag = coalesce(?3, etag), last_modified = coalesce(?4, last_modified),"
    " checked_at = max(checked_at, ?11)"
    " WHERE source_key = ?1 AND sha256 = ?2 AND blob_key = ?5";

// claim_tasks: a pending task `t` may be claimed unless another owner holds a task of the
// same source under a live lease (docs/architecture.md, "Shared sources and outputs"): it
// waits for that download instead of starting its own, and comes back with what it made.
// An expired lease does not hold it (that owner may be dead). ?2 is now, ?4 the claimer;
// the index tasks_running_by_source finds the holders.
constexpr std::string_view kSourceFree =
    "(t.source_key IS NULL OR NOT EXISTS (SELECT 1 FROM tasks held"
    " WHERE held.source_key = t.source_key AND held.state = 'running'"
    " AND held.lease_owner <> ?4 AND held.lease_expires > ?2))";

// finish_tasks: whether a task of one of these sources waits to be claimed, now that its
// source's task has ended (a claim of another owner passed it over meanwhile).
constexpr std::string_view kSourceAwaited =
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE source_key = ?1 AND state = 'pending')";

// Queues the notification for a request that has just ended; called inside the
// transaction that ended it, so a crash cannot separate the two.
void insert_delivery(Connection& db, const std::string& request_id, const std::string& url,
                     core::TimeMs now) {
  Query insert(db,
               "INSERT INTO deliveries (webhook_id, request_id, url, next_attempt_at, created_at)"
               " VALUES (?1, ?2, ?3, ?4, ?4)",
               "queueing a webhook delivery");
  insert.bind(1, common::new_webhook_id()).bind(2, request_id).bind(3, url).bind(4, now).run();
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path)
    : path_(path), writer_(std::make_unique<Connection>(path, Connection::Role::writer)) {
  migrate(*writer_, migrations());
  // Opened after the writer, which creates the file and turns on WAL mode.
  checkpointer_ = std::make_unique<Checkpointer>(path);
  checkpointer_->watch(writer_->handle());
}

SqliteStore::~SqliteStore() = default;

SqliteStore::ReaderLease SqliteStore::reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      auto connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(*this, std::move(connection));
    }
  }
  // Opened outside the lock: opening touches the disk.
  return ReaderLease(*this, std::make_unique<Connection>(path_, Connection::Role::reader));
}

void SqliteStore::give_back(std::unique_ptr<Connection> connection) {
  // Still in a transaction only if a ROLLBACK failed; a fresh connection is safer.
  if (!connection || connection->in_transaction()) return;
  std::lock_guard lock(readers_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(connection));
}

namespace {

// Charges the upload to its key's api_key_usage row (common/quota.hpp); writes the row
// only when the upload is allowed. Runs in create_request's write transaction.
common::QuotaCharge charge_quota(Connection& db, const core::NewRequest& request,
                                 std::int64_t images) {
  const std::string key = request.owner_key.value_or("");
  const core::TimeMs now = request.created_at;
  common::KeyUsage usage = common::fresh_usage(*request.quota, now);
  {
    Query read(db,
               "SELECT day_start, images_today, token_micros, refilled_at FROM api_key_usage"
               " WHERE key_id = ?1",
               "reading a key's usage");
    read.bind(1, key);
    if (read.step()) usage = {read.int64(0), read.int64(1), read.int64(2), read.int64(3)};
  }
  auto charge = common::charge_upload(usage, *request.quota, images, now);
  if (!charge.allowed) return charge;
  Query write(db,
              "INSERT INTO api_key_usage (key_id, day_start, images_today, token_micros,"
              " refilled_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key_id) DO UPDATE SET"
              " day_start = excluded.day_start, images_today = excluded.images_today,"
              " token_micros = excluded.token_micros, refilled_at = excluded.refilled_at",
              "charging a key's usage");
  write.bind(1, key)
      .bind(2, charge.after.day_start)
      .bind(3, charge.after.images_today)
      .bind(4, charge.after.token_micros)
      .bind(5, charge.after.refilled_at);
  write.step();
  return charge;
}

}  // namespace

core::CreateOutcome SqliteStore::create_request(const core::NewRequest& request) {
  // Encoded before taking the write lock, which other writers are waiting for.
  const common::PreparedRequest prepared(request);

  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);

  if (request.idempotency_key) {
    Query earlier(db,
                  "SELECT id, fingerprint FROM requests"
                  " WHERE idempotency_key = ?1 AND created_at > ?2 AND owner_key IS ?3"
                  " AND deleted_at IS NULL"
                  " ORDER BY created_at DESC, seq DESC LIMIT 1",
                  "looking up an idempotency key");
    earlier.bind(1, *request.idempotency_key)
        .bind(2, prepared.idempotency_cutoff())
        .bind(3, request.owner_key);
    if (earlier.step())
      return common::earlier_use(earlier.text(0), earlier.text(1) == request.fingerprint);
  }

  // Charged after the replay check (a replay is not charged again) and under the write
  // lock, so that concurrent uploads of one key are charged one after the other.
  std::optional<core::QuotaState> quota;
  if (request.quota) {
    auto charge = charge_quota(db, request, prepared.total);
    if (!charge.allowed) return {core::CreateOutcome::Kind::over_quota, {}, charge.state};
    quota = charge.state;
  }

  Query insert_request(db,
                       "INSERT INTO requests (id, status, created_at, updated_at, columns,"
                       " webhook_url, quality, format, idempotency_key, fingerprint,"
                       " products_total, total, owner_key, quality_target, max_bytes,"
                       " never_larger, sizes, min_quality)"
                       " VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                       " ?14, ?15, ?16, ?17)"
                       " RETURNING seq",
                       "storing a request");
  insert_request.bind(1, request.id)
      .bind(2, prepared.status())
      .bind(3, request.created_at)
      .bind(4, prepared.columns)
      .bind(5, request.webhook_url)
      .bind(6, request.quality)
      .bind(7, core::to_string(request.format))
      .bind(8, request.idempotency_key)
      .bind(9, request.fingerprint)
      .bind(10, prepared.products())
      .bind(11, prepared.total)
      .bind(12, request.owner_key)
      .bind(13, request.choices.quality_target)
      .bind(14, request.choices.max_bytes)
      .bind(15, request.choices.never_larger ? 1 : 0)
      .bind(16, core::format_output_sizes(request.choices.sizes))
      .bind(17, request.choices.min_quality);
  insert_request.step();
  const std::int64_t seq = insert_request.int64(0);
  insert_request.reset();

  BatchInsert products(
      db,
      "INSERT INTO products (request_seq, idx, serial_number, product_name, fields)"
      " VALUES ",
      5, prepared.products(), "storing products");
  BatchInsert tasks(
      db,
      "INSERT INTO tasks (request_seq, product_idx, image_idx, source_url, updated_at,"
      " source_key) VALUES ",
      6, prepared.total, "storing image tasks");
  for (std::size_t p = 0; p < request.products.size(); ++p) {
    const auto& product = request.products[p];
    products.row(seq, static_cast<std::int64_t>(p), product.serial_number, product.product_name,
                 prepared.fields[p]);
  }
  const auto& keys = request.source_keys;
  std::size_t image = 0;  // the task's position in source_keys
  for (std::size_t p = 0; p < request.products.size(); ++p) {
    const auto& urls = request.products[p].image_urls;
    for (std::size_t i = 0; i < urls.size(); ++i, ++image)
      tasks.row(seq, static_cast<std::int64_t>(p), static_cast<std::int64_t>(i), urls[i],
                request.created_at,
                image < keys.size() && !keys[image].empty() ? &keys[image] : nullptr);
  }
  products.finish();
  tasks.finish();
  if (prepared.delivers_at_once())
    insert_delivery(db, request.id, *request.webhook_url, request.created_at);

  transaction.commit();
  if (!prepared.ended) notifier_.notify();
  return {core::CreateOutcome::Kind::created, request.id, quota};
}

std::optional<core::RequestRecord> SqliteStore::get_request(const std::string& id) {
  auto db = reader();
  Query query(*db,
              common::select_sql("SELECT ", common::kRequestColumns,
                                 " FROM requests WHERE id = ?1 AND deleted_at IS NULL"),
              "reading a request");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return common::read_request(query, kBackend);
}

std::vector<core::ProductRecord> SqliteStore::get_products(const std::string& request_id,
                                                           int offset, int limit) {
  std::vector<core::ProductRecord> products;
  if (limit <= 0) return products;
  const std::int64_t first = std::max(offset, 0);
  const std::int64_t end = first + limit;

  auto db = reader();
  // One snapshot for both queries: a page never mixes images from before and after a write.
  Transaction snapshot(*db, Transaction::Kind::read);
  {
    // Product indexes are 0..n-1 without gaps, so the page is a key range, not an OFFSET.
    Query query(*db,
                common::select_sql("SELECT ", common::kProductColumns,
                                   " FROM products p"
                                   " WHERE p.request_seq = (SELECT seq FROM requests WHERE id = ?1"
                                   " AND deleted_at IS NULL)"
                                   " AND p.idx >= ?2 AND p.idx < ?3 ORDER BY p.idx"),
                "reading products");
    query.bind(1, request_id).bind(2, first).bind(3, end);
    while (query.step()) products.push_back(common::read_product(query));
  }
  if (products.empty()) return products;
  {
    Query query(*db,
                common::select_sql("SELECT t.product_idx, ", common::kImageColumns,
                                   " FROM tasks t"
                                   " WHERE t.request_seq = (SELECT seq FROM requests WHERE id = ?1"
                                   " AND deleted_at IS NULL)"
                                   " AND t.product_idx >= ?2 AND t.product_idx < ?3"
                                   " ORDER BY t.product_idx, t.image_idx"),
                "reading the images of products");
    query.bind(1, request_id).bind(2, first).bind(3, end);
    while (query.step()) {
      const std::int64_t position = query.int64(0) - first;
      if (position < 0 || position >= static_cast<std::int64_t>(products.size())) continue;
      products[static_cast<std::size_t>(position)].images.push_back(
          common::read_image(query, 1, kBackend));
    }
  }
  snapshot.commit();
  return products;
}

std::optional<std::string> SqliteStore::image_key(const std::string& request_id, int product,
                                                  int image) {
  auto db = reader();
  Query query(*db,
              "SELECT t.blob_key FROM tasks t JOIN requests r ON r.seq = t.request_seq"
              " WHERE r.id = ?1 AND r.deleted_at IS NULL AND t.product_idx = ?2"
              " AND t.image_idx = ?3 AND t.state = 'done'",
              "looking up an image's key");
  query.bind(1, request_id).bind(2, product).bind(3, image);
  if (!query.step()) return std::nullopt;
  return query.optional_text(0);
}

std::vector<core::RequestRecord> SqliteStore::list_requests(int limit, int offset) {
  std::vector<core::RequestRecord> requests;
  if (limit <= 0) return requests;
  auto db = reader();
  Query query(*db,
              common::select_sql(
                  "SELECT ", common::kRequestColumns,
                  " FROM requests WHERE deleted_at IS NULL ORDER BY created_at DESC, seq DESC"
                  " LIMIT ?1 OFFSET ?2"),
              "listing requests");
  query.bind(1, limit).bind(2, std::max(offset, 0));
  while (query.step()) requests.push_back(common::read_request(query, kBackend));
  return requests;
}

std::vector<core::RequestRecord> SqliteStore::list_requests_of(const std::string& owner_key,
                                                               int limit, int offset) {
  std::vector<core::RequestRecord> requests;
  if (limit <= 0) return requests;
  auto db = reader();
  Query query(*db,
              common::select_sql("SELECT ", common::kRequestColumns,
                                 " FROM requests WHERE owner_key = ?3 AND deleted_at IS NULL"
                                 " ORDER BY created_at DESC, seq DESC LIMIT ?1 OFFSET ?2"),
              "listing the requests of a key");
  query.bind(1, limit).bind(2, std::max(offset, 0)).bind(3, owner_key);
  while (query.step()) requests.push_back(common::read_request(query, kBackend));
  return requests;
}

bool SqliteStore::create_api_key(const core::NewApiKey& key) {
  std::lock_guard lock(writer_mutex_);
  // ON CONFLICT DO NOTHING: a name in use by a key not revoked (the partial unique index)
  // returns no row; so would a token hash in use, which 256 random bits never repeat.
  Query insert(*writer_,
               "INSERT INTO api_keys (id, name, token_hash, admin, images_per_day,"
               " uploads_per_minute, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
               " ON CONFLICT DO NOTHING RETURNING id",
               "storing an API key");
  insert.bind(1, key.id)
      .bind(2, key.name)
      .bind(3, key.token_hash)
      .bind(4, key.admin ? 1 : 0)
      .bind(5, key.images_per_day)
      .bind(6, key.uploads_per_minute)
      .bind(7, key.created_at);
  return insert.step();
}

std::vector<core::ApiKeyRecord> SqliteStore::list_api_keys() {
  auto db = reader();
  Query query(*db,
              common::select_sql("SELECT ", common::kApiKeyColumns,
                                 " FROM api_keys ORDER BY created_at, rowid"),
              "listing API keys");
  std::vector<core::ApiKeyRecord> keys;
  while (query.step()) keys.push_back(common::read_api_key(query));
  return keys;
}

bool SqliteStore::revoke_api_key(const std::string& name, core::TimeMs now) {
  std::lock_guard lock(writer_mutex_);
  Query update(*writer_,
               "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
               "revoking an API key");
  update.bind(1, name).bind(2, now).run();
  return writer_->changes() > 0;
}

std::optional<core::ApiKeyRecord> SqliteStore::find_api_key(const std::string& token_hash) {
  auto db = reader();
  Query query(*db,
              common::select_sql("SELECT ", common::kApiKeyColumns,
                                 " FROM api_keys WHERE token_hash = ?1 AND revoked_at IS NULL"),
              "looking up an API key");
  query.bind(1, token_hash);
  if (!query.step()) return std::nullopt;
  return common::read_api_key(query);
}

Store::DeleteOutcome SqliteStore::delete_request(const std::string& id) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  {
    Query find(db, "SELECT status FROM requests WHERE id = ?1 AND deleted_at IS NULL",
               "finding a request to delete");
    find.bind(1, id);
    if (!find.step()) return DeleteOutcome::not_found;
    if (!common::has_ended(find.text(0))) return DeleteOutcome::not_ended;
  }
  Query mark(db, "UPDATE requests SET deleted_at = ?2 WHERE id = ?1", "marking a request deleted");
  mark.bind(1, id).bind(2, core::now_ms()).run();
  Query deliveries(db, "DELETE FROM deliveries WHERE request_id = ?1",
                   "deleting a request's deliveries");
  deliveries.bind(1, id).run();
  transaction.commit();
  return DeleteOutcome::deleted;
}

Store::CancelOutcome SqliteStore::cancel_request(const std::string& id, core::TimeMs now) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  std::int64_t seq = 0;
  std::optional<std::string> webhook_url;
  {
    Query find(db,
               "SELECT seq, status, webhook_url FROM requests WHERE id = ?1 AND deleted_at IS NULL",
               "finding a request to cancel");
    find.bind(1, id);
    if (!find.step()) return CancelOutcome::not_found;
    if (common::has_ended(find.text(1))) return CancelOutcome::already_ended;
    seq = find.int64(0);
    webhook_url = find.optional_text(2);
  }
  Query request(db, "UPDATE requests SET status = 'cancelled', updated_at = ?2 WHERE seq = ?1",
                "cancelling a request");
  request.bind(1, seq).bind(2, now).run();
  Query tasks(db, kCancelTasks, "dropping a cancelled request's tasks");
  tasks.bind(1, seq).bind(2, now).run();
  if (webhook_url) insert_delivery(db, id, *webhook_url, now);
  transaction.commit();
  return CancelOutcome::cancelled;
}

std::vector<std::int64_t> SqliteStore::cancelled_tasks(const std::vector<std::int64_t>& task_ids) {
  std::vector<std::int64_t> cancelled;
  if (task_ids.empty()) return cancelled;
  auto db = reader();
  // One indexed lookup per task, in one read transaction; tasks in hand are few.
  Query query(*db,
              "SELECT 1 FROM tasks JOIN requests ON requests.seq = tasks.request_seq"
              " WHERE tasks.id = ?1 AND requests.status = 'cancelled'",
              "looking for cancelled tasks");
  for (std::int64_t task_id : task_ids) {
    query.bind(1, task_id);
    if (query.step()) cancelled.push_back(task_id);
    query.reset();
  }
  return cancelled;
}

namespace {

// Of these image keys, whose tasks were just removed, those that no task names any more
// go: queued for removal with their sizes, and their source's row deleted so that no later
// task can reuse them (under the one write lock, nothing can name them in between).
void queue_unreferenced(Connection& db, const std::vector<std::string>& keys,
                        const std::vector<std::string>& sizes) {
  Query named(db, "SELECT EXISTS (SELECT 1 FROM tasks WHERE blob_key = ?1)",
              "counting the references to an image");
  Query forget(db, "DELETE FROM sources WHERE blob_key = ?1", "forgetting a removed image");
  Query queue(db, "INSERT OR IGNORE INTO blob_deletions (key) VALUES (?1)",
              "queueing an image for removal");
  for (const std::string& key : keys) {
    named.bind(1, key);
    named.step();
    const bool still_named = named.integer(0) != 0;
    named.reset();
    if (still_named) continue;
    forget.bind(1, key).run();
    forget.reset();
    for (const std::string& name : common::stored_keys(key, sizes)) {
      queue.bind(1, name).run();
      queue.reset();
    }
  }
}

}  // namespace

Store::PurgeStep SqliteStore::purge_step(std::optional<core::TimeMs> ended_before, core::TimeMs now,
                                         int chunk) {
  PurgeStep step;
  if (chunk <= 0) return step;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  if (ended_before) {
    Query mark(
        db,
        common::select_sql("UPDATE requests SET deleted_at = ?2 WHERE seq IN (SELECT seq"
                           " FROM requests WHERE deleted_at IS NULL AND status IN ",
                           common::kEndedStatuses,
                           " AND updated_at < ?1 ORDER BY updated_at LIMIT ?3) RETURNING id"),
        "marking expired requests deleted");
    mark.bind(1, *ended_before).bind(2, now).bind(3, chunk);
    std::vector<std::string> ids;
    while (mark.step()) ids.push_back(mark.text(0));
    mark.reset();
    Query deliveries(db, "DELETE FROM deliveries WHERE request_id = ?1",
                     "deleting a request's deliveries");
    for (const auto& id : ids) {
      deliveries.bind(1, id).run();
      deliveries.reset();
    }
    step.marked = static_cast<int>(ids.size());
  }
  std::int64_t seq = 0;
  std::string id;
  std::vector<std::string> sizes;
  {
    Query oldest(db,
                 "SELECT seq, id, sizes FROM requests WHERE deleted_at IS NOT NULL"
                 " ORDER BY deleted_at, seq LIMIT 2",
                 "finding a deleted request to purge");
    if (oldest.step()) {
      seq = oldest.int64(0);
      id = oldest.text(1);
      sizes = common::size_names(oldest.text(2), kBackend);
      step.more = oldest.step();  // a second one waits
    }
  }
  if (!id.empty()) {
    // Tasks first, the images no other task names queued in this same transaction
    // (common::queue_unreferenced); then products; the request row last, once nothing
    // refers to it. Tasks in the order of their unique index, (request_seq, product_idx,
    // image_idx): a chunk never sorts the whole request.
    std::vector<std::string> keys;
    {
      Query named(db,
                  "SELECT DISTINCT blob_key FROM (SELECT blob_key FROM tasks"
                  " WHERE request_seq = ?1 ORDER BY product_idx, image_idx LIMIT ?2)"
                  " WHERE blob_key IS NOT NULL",
                  "listing the images of a deleted request's tasks");
      named.bind(1, seq).bind(2, chunk);
      while (named.step()) keys.push_back(named.text(0));
    }
    Query tasks(db,
                "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE request_seq = ?1"
                " ORDER BY product_idx, image_idx LIMIT ?2)",
                "purging a deleted request's tasks");
    tasks.bind(1, seq).bind(2, chunk).run();
    const int tasks_removed = db.changes();
    queue_unreferenced(db, keys, sizes);
    int products_removed = 0;
    if (tasks_removed < chunk) {
      Query products(db,
                     "DELETE FROM products WHERE request_seq = ?1 AND idx IN (SELECT idx FROM"
                     " products WHERE request_seq = ?1 ORDER BY idx LIMIT ?2)",
                     "purging a deleted request's products");
      products.bind(1, seq).bind(2, chunk - tasks_removed).run();
      products_removed = db.changes();
    }
    step.removed = tasks_removed + products_removed;
    if (tasks_removed < chunk && products_removed < chunk - tasks_removed) {
      Query request(db, "DELETE FROM requests WHERE seq = ?1", "purging a deleted request");
      request.bind(1, seq).run();
      step.removed += 1;
    } else {
      step.more = true;
    }
  }
  if (ended_before && step.marked == chunk) step.more = true;
  transaction.commit();
  return step;
}

std::vector<std::string> SqliteStore::pending_blob_deletions(int limit) {
  auto db = reader();
  Query query(*db, "SELECT key FROM blob_deletions ORDER BY seq LIMIT ?1",
              "listing images to remove");
  query.bind(1, limit);
  std::vector<std::string> keys;
  while (query.step()) keys.push_back(query.text(0));
  return keys;
}

void SqliteStore::forget_blob_deletions(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  Query forget(db, "DELETE FROM blob_deletions WHERE key = ?1", "forgetting removed images");
  for (const auto& key : keys) {
    forget.bind(1, key).run();
    forget.reset();
  }
  transaction.commit();
}

bool SqliteStore::any_api_key() {
  auto db = reader();
  Query query(*db, "SELECT EXISTS (SELECT 1 FROM api_keys)", "looking for API keys");
  query.step();
  return query.integer(0) != 0;
}

std::vector<core::ClaimedTask> SqliteStore::claim_tasks(const std::string& owner, int max,
                                                        core::TimeMs now, core::TimeMs lease_ms) {
  std::vector<core::ClaimedTask> claimed;
  if (max <= 0) return claimed;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);

  // Fair turns (common/turns.hpp): the unfinished requests, each with how many of its tasks
  // are ready (counted up to `max`), then a plan of how many to take from each. The
  // literals repeat the partial indexes' conditions so that SQLite uses them.
  std::vector<common::TurnCandidate> candidates;
  {
    Query unfinished(db,
                     "SELECT seq, coalesce(owner_key, ''), last_turn FROM requests"
                     " WHERE status = 'pending' OR status = 'processing'",
                     "listing unfinished requests");
    while (unfinished.step())
      candidates.push_back({unfinished.int64(0), unfinished.text(1), unfinished.int64(2), 0});
  }
  for (auto& candidate : candidates) {
    Query ready(db,
                "SELECT count(*) FROM (SELECT 1 FROM tasks t WHERE t.request_seq = ?1"
                " AND t.state = 'pending' AND t.not_before <= ?2 AND " +
                    std::string(kSourceFree) + " LIMIT ?3)",
                "counting a request's ready tasks");
    ready.bind(1, candidate.seq).bind(2, now).bind(3, max).bind(4, owner);
    ready.step();
    candidate.ready = ready.integer(0);
  }

  for (const common::Turn& turn : common::plan_turns(candidates, max)) {
    // The claims of this call see each other's tasks as this owner's: two tasks of one
    // source may be claimed together (the pipeline shares the download).
    Query claim(db,
                "UPDATE tasks SET state = 'running', lease_owner = ?4, lease_expires = ?3,"
                " attempts = attempts + 1, updated_at = ?2"
                " WHERE id IN (SELECT t.id FROM tasks t WHERE t.request_seq = ?1"
                " AND t.state = 'pending' AND t.not_before <= ?2 AND " +
                    std::string(kSourceFree) +
                    " ORDER BY t.id LIMIT ?5)"
                    " RETURNING id, product_idx, image_idx, source_url, attempts, source_key",
                "claiming tasks");
    claim.bind(1, turn.seq).bind(2, now).bind(3, now + lease_ms).bind(4, owner).bind(5, turn.tasks);
    const std::size_t first = claimed.size();
    while (claim.step()) {
      core::ClaimedTask& task = claimed.emplace_back();
      task.task_id = claim.int64(0);
      task.product_index = claim.integer(1);
      task.image_index = claim.integer(2);
      task.source_url = claim.text(3);
      task.attempt = claim.integer(4);
      task.source_key = claim.optional_text(5);
    }
    if (claimed.size() == first) continue;

    // The request has had its turn, and is processing from its first claim on.
    Query start(
        db,
        "UPDATE requests SET last_turn = ?2,"
        " updated_at = CASE WHEN status = 'pending' THEN ?3 ELSE updated_at END,"
        " status = 'processing' WHERE seq = ?1 RETURNING id, quality, format, created_at, " +
            std::string(common::kOutputChoiceColumns),
        "marking a request as processing");
    start.bind(1, turn.seq).bind(2, turn.last_turn).bind(3, now);
    if (!start.step())
      throw StoreError("sqlite: task " + std::to_string(claimed[first].task_id) +
                       " belongs to a missing request");
    const std::string id = start.text(0);
    const int quality = start.integer(1);
    const std::string format_name = start.text(2);
    const core::ImageFormat format =
        parse_stored(core::parse_image_format(format_name), format_name, kBackend, "image format");
    const core::TimeMs created_at = start.int64(3);
    const core::OutputChoices choices = common::read_output_choices(start, 4, kBackend);
    while (start.step()) {
    }
    for (std::size_t k = first; k < claimed.size(); ++k) {
      claimed[k].request_id = id;
      claimed[k].quality = quality;
      claimed[k].format = format;
      claimed[k].choices = choices;
      claimed[k].request_created_at = created_at;
    }
  }
  // What is known of each shared source, read in the claim's transaction.
  Query known(
      db,
      common::select_sql("SELECT ", common::kSourceColumns, " FROM sources WHERE source_key = ?1"),
      "reading what is known of a source");
  for (core::ClaimedTask& task : claimed) {
    if (!task.source_key) continue;
    known.bind(1, *task.source_key);
    if (known.step()) task.known = common::read_known_source(known, 0);
    known.reset();
  }
  transaction.commit();
  // RETURNING gives rows in no promised order.
  std::sort(claimed.begin(), claimed.end(),
            [](const auto& a, const auto& b) { return a.task_id < b.task_id; });
  return claimed;
}

int SqliteStore::renew_leases(const std::string& owner, const std::vector<std::int64_t>& task_ids,
                              core::TimeMs until) {
  if (task_ids.empty()) return 0;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  int renewed = 0;
  Query renew(db,
              "UPDATE tasks SET lease_expires = ?3"
              " WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
              "renewing a lease");
  for (std::int64_t id : task_ids) {
    renew.bind(1, id).bind(2, owner).bind(3, until).run();
    renewed += db.changes();
    renew.reset();
  }
  transaction.commit();
  return renewed;
}

int SqliteStore::release_expired_leases(core::TimeMs now) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  // Attempts stay counted: a task that kills its worker every time must still run out.
  Query release(db,
                "UPDATE tasks SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                " updated_at = ?1 WHERE state = 'running' AND lease_expires < ?1",
                "releasing expired leases");
  release.bind(1, now).run();
  const int released = db.changes();
  if (released > 0) notifier_.notify();
  return released;
}

int SqliteStore::release_leases(const std::string& owner) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Query release(db,
                "UPDATE tasks SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                " updated_at = ?2 WHERE state = 'running' AND lease_owner = ?1",
                "releasing the leases of an owner");
  release.bind(1, owner).bind(2, core::now_ms()).run();
  const int released = db.changes();
  if (released > 0) notifier_.notify();
  return released;
}

std::vector<std::string> SqliteStore::lease_owners() {
  auto db = reader();
  Query query(*db,
              "SELECT DISTINCT lease_owner FROM tasks"
              " WHERE state = 'running' AND lease_owner IS NOT NULL",
              "listing the lease owners");
  std::vector<std::string> owners;
  while (query.step()) owners.push_back(query.text(0));
  return owners;
}

std::unique_ptr<ProcessPresence> SqliteStore::announce_process(const std::string& owner) {
  return std::make_unique<SqlitePresence>(presence_folder(path_), owner);
}

int SqliteStore::release_departed_owners(const std::string& self, core::TimeMs) {
  return release_departed(presence_folder(path_), self,
                          [&](const std::string& owner) { return release_leases(owner); });
}

std::vector<std::string> SqliteStore::finish_tasks(const std::vector<core::TaskOutcome>& outcomes,
                                                   core::TimeMs now) {
  std::vector<std::string> completed;
  if (outcomes.empty()) return completed;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);

  // Requests that had a task end in this call, in first-seen order.
  std::vector<std::int64_t> ended_in;
  // The sources of the tasks that ended: claims of other owners may have passed over their
  // pending tasks (kSourceFree), which are claimable now.
  std::vector<std::string> ended_sources;
  bool retried = false;
  // Both ends in one statement, as PostgreSQL's kEndTasks. `state IN ('pending',
  // 'running')` is what makes counting exactly-once: an outcome for a task that has
  // already ended (a duplicate, or a late report from a worker whose lease expired and
  // whose task was redone) changes nothing. The task's own request is used, not the one
  // the outcome names.
  // A done task names the image it uses: the outcome's key, or its own REQUEST/NAME.
  Query end(db,
            "UPDATE tasks SET state = ?2,"
            " output_name = CASE WHEN ?2 = 'done' THEN ?3 ELSE output_name END,"
            " error = CASE WHEN ?2 = 'failed' THEN ?4 ELSE error END,"
            " bytes_in = ?5, bytes_out = ?6, lease_owner = NULL, lease_expires = NULL,"
            " updated_at = ?7, quality_used = ?8, score = ?9, kept = ?10,"
            " blob_key = CASE WHEN ?2 = 'done' THEN coalesce(?11, (SELECT id FROM requests"
            " WHERE seq = tasks.request_seq) || '/' || ?3) ELSE NULL END, reused = ?12"
            " WHERE id = ?1 AND state IN ('pending', 'running')"
            " RETURNING request_seq, blob_key, source_key",
            "recording an ended task");
  Query count(db,
              "UPDATE requests SET succeeded = succeeded + (?2 = 'done'),"
              " failed = failed + (?2 = 'failed'), reused = reused + ?4, updated_at = ?3"
              " WHERE seq = ?1",
              "updating request progress");
  // A reuse counts only while the source still names the image (a purge may have removed
  // its last reference meanwhile; docs/architecture.md, "Shared sources and outputs").
  Query still_named(db, "SELECT 1 FROM sources WHERE source_key = ?1 AND blob_key = ?2",
                    "checking that a shared image is still there");
  Query again(db,
              "UPDATE tasks SET state = 'pending', not_before = ?2, lease_owner = NULL,"
              " lease_expires = NULL, updated_at = ?2"
              " WHERE id = ?1 AND state IN ('pending', 'running')",
              "making a task's image again");
  Query remember(db, kRememberSource, "remembering a source");
  Query confirm(db, kConfirmSource, "confirming a source");
  // The attempt was counted when the task was claimed.
  Query retry(db,
              "UPDATE tasks SET state = 'pending', not_before = ?2, error = ?3,"
              " lease_owner = NULL, lease_expires = NULL, updated_at = ?4"
              " WHERE id = ?1 AND state = 'running' AND lease_owner = ?5",
              "scheduling a task retry");
  Query orphan(db, kQueueCancelledImage, "queueing a cancelled request's image");
  for (const core::TaskOutcome& outcome : outcomes) {
    const std::optional<std::string_view> state = common::end_state(outcome);
    if (!state) {
      retry.bind(1, outcome.task_id)
          .bind(2, outcome.retry_at)
          .bind(3, outcome.error)
          .bind(4, now)
          .bind(5, outcome.owner)
          .run();
      retried = retried || db.changes() > 0;
      retry.reset();
      continue;
    }
    const bool reused = *state == "done" && outcome.reused != core::Reuse::none;
    if (reused) {
      still_named.bind(1, outcome.source_key.value_or("")).bind(2, outcome.blob_key.value_or(""));
      const bool there = still_named.step();
      still_named.reset();
      if (!there) {
        again.bind(1, outcome.task_id).bind(2, now).run();
        retried = retried || db.changes() > 0;
        again.reset();
        continue;
      }
    }
    end.bind(1, outcome.task_id)
        .bind(2, *state)
        .bind(3, outcome.output_name)
        .bind(4, outcome.error)
        .bind(5, outcome.bytes_in)
        .bind(6, outcome.bytes_out)
        .bind(7, now)
        .bind(8, outcome.report.quality)
        .bind(9, outcome.report.score)
        .bind(10, outcome.report.kept ? 1 : 0)
        .bind(11, outcome.blob_key)
        .bind(12, common::stored_reuse(reused ? outcome.reused : core::Reuse::none));
    const bool ended = end.step();
    const std::int64_t seq = ended ? end.int64(0) : 0;
    const std::optional<std::string> blob_key = ended ? end.optional_text(1) : std::nullopt;
    if (ended)
      if (auto key = end.optional_text(2);
          key && std::find(ended_sources.begin(), ended_sources.end(), *key) == ended_sources.end())
        ended_sources.push_back(std::move(*key));
    end.reset();
    if (!ended) {
      // Only an image it made itself: a reused one belongs to its other references.
      if (!reused) {
        for (const std::string& name : common::stored_names(outcome)) {
          orphan.bind(1, outcome.task_id).bind(2, name).run();
          orphan.reset();
        }
      }
      continue;
    }
    count.bind(1, seq).bind(2, *state).bind(3, now).bind(4, reused ? 1 : 0).run();
    count.reset();
    // A duplicate asked no server: it changes nothing of what is known.
    if (*state == "done" && outcome.source_key && !outcome.sha256.empty() && blob_key &&
        outcome.reused != core::Reuse::duplicate) {
      Query& source = reused ? confirm : remember;
      source.bind(1, *outcome.source_key)
          .bind(2, outcome.sha256)
          .bind(3, outcome.etag)
          .bind(4, outcome.last_modified)
          .bind(5, *blob_key)
          .bind(6, outcome.bytes_in)
          .bind(7, outcome.bytes_out)
          .bind(8, outcome.report.quality)
          .bind(9, outcome.report.score)
          .bind(10, outcome.report.kept ? 1 : 0)
          .bind(11, now)
          .run();
      source.reset();
    }
    if (std::find(ended_in.begin(), ended_in.end(), seq) == ended_in.end()) ended_in.push_back(seq);
  }

  for (std::int64_t seq : ended_in) {
    // Conditional on the status, under the write lock: of two finishers, only the one
    // whose transaction ends the last task sees the request still open.
    Query complete(db,
                   "UPDATE requests SET status = 'completed', updated_at = ?2"
                   " WHERE seq = ?1 AND (status = 'pending' OR status = 'processing')"
                   " AND succeeded + failed >= total RETURNING id, webhook_url",
                   "completing a request");
    complete.bind(1, seq).bind(2, now);
    if (!complete.step()) continue;
    std::string id = complete.text(0);
    const std::optional<std::string> webhook_url = complete.optional_text(1);
    complete.reset();
    if (webhook_url) insert_delivery(db, id, *webhook_url, now);
    completed.push_back(std::move(id));
  }
  bool awaited = false;
  Query waiting(db, kSourceAwaited, "looking for tasks waiting for a source");
  for (const std::string& key : ended_sources) {
    waiting.bind(1, key);
    awaited = waiting.step() && waiting.integer(0) != 0;
    waiting.reset();
    if (awaited) break;
  }
  transaction.commit();
  if (retried || awaited) notifier_.notify();
  return completed;
}

std::vector<core::Delivery> SqliteStore::claim_deliveries(core::TimeMs now, int max,
                                                          core::TimeMs lease_ms) {
  std::vector<core::Delivery> claimed;
  if (max <= 0) return claimed;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Query claim(db,
              common::select_sql(
                  "UPDATE deliveries SET lease_expires = ?2 WHERE id IN (SELECT id FROM deliveries"
                  " WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL"
                  " AND next_attempt_at <= ?1 AND (lease_expires IS NULL OR lease_expires < ?1)"
                  " ORDER BY next_attempt_at, id LIMIT ?3) RETURNING ",
                  common::kDeliveryColumns, ""),
              "claiming webhook deliveries");
  claim.bind(1, now).bind(2, now + lease_ms).bind(3, max);
  while (claim.step()) claimed.push_back(common::read_delivery(claim));
  common::sort_by_due(claimed);
  return claimed;
}

void SqliteStore::record_delivery_attempt(const core::DeliveryAttempt& attempt, core::TimeMs now) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  // `delivered_at IS NULL`: once delivered, a late report from a dispatcher whose lease
  // had expired must not schedule the notification again.
  if (attempt.delivered) {
    Query record(db,
                 "UPDATE deliveries SET attempts = attempts + 1, last_status = ?2,"
                 " last_error = ?3, delivered_at = ?4, next_attempt_at = NULL,"
                 " lease_expires = NULL WHERE id = ?1 AND delivered_at IS NULL",
                 "recording a delivered webhook");
    record.bind(1, attempt.delivery_id)
        .bind(2, attempt.http_status)
        .bind(3, attempt.error)
        .bind(4, now)
        .run();
  } else {
    // A null next_attempt_at is the give-up mark: the claim query never selects it.
    Query record(db,
                 "UPDATE deliveries SET attempts = attempts + 1, last_status = ?2,"
                 " last_error = ?3, next_attempt_at = ?4, lease_expires = NULL"
                 " WHERE id = ?1 AND delivered_at IS NULL",
                 "recording a failed webhook attempt");
    record.bind(1, attempt.delivery_id)
        .bind(2, attempt.http_status)
        .bind(3, attempt.error)
        .bind(4, attempt.next_attempt_at)
        .run();
  }
}

std::unique_ptr<WorkWatch> SqliteStore::watch_new_work(std::function<void()> on_new_work) {
  return notifier_.watch(std::move(on_new_work));
}

Store::QueueDepth SqliteStore::queue_depth() {
  auto db = reader();
  Query query(*db,
              "SELECT (SELECT count(*) FROM tasks WHERE state = 'pending'),"
              " (SELECT count(*) FROM tasks WHERE state = 'running')",
              "counting queued tasks");
  query.step();
  return {query.int64(0), query.int64(1)};
}

bool SqliteStore::ping() {
  try {
    auto db = reader();
    Query query(*db, "SELECT count(*) FROM schema_migrations", "pinging the database");
    return query.step();
  } catch (const StoreError&) {
    return false;
  }
}

}  // namespace imgbatch::store::sqlite
