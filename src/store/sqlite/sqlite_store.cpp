#include "sqlite/sqlite_store.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "core/ids.hpp"
#include "sqlite/batch_insert.hpp"
#include "sqlite/schema.hpp"
#include "stored_value.hpp"
#include "string_list_json.hpp"

namespace imgbatch::store::sqlite {

namespace {

constexpr std::string_view kBackend = "sqlite";  // names this backend in errors

constexpr core::TimeMs kIdempotencyWindowMs = 24LL * 60 * 60 * 1000;
// Readers beyond this many are closed when returned instead of kept: enough for the
// HTTP threads of one process, small enough not to hold file descriptors for nothing.
constexpr std::size_t kMaxIdleReaders = 8;


constexpr std::string_view kRequestColumns =
    "id, status, created_at, updated_at, columns, webhook_url, quality, format, "
    "failure_reason, products_total, total, succeeded, failed";

core::RequestRecord read_request(const Query& row) {
  core::RequestRecord r;
  r.id = row.text(0);
  const std::string status = row.text(1);
  r.status = parse_stored(core::parse_request_status(status), status, kBackend, "request status");
  r.created_at = row.int64(2);
  r.updated_at = row.int64(3);
  r.columns = decode_string_list(row.text(4));
  r.webhook_url = row.optional_text(5);
  r.quality = row.integer(6);
  const std::string format = row.text(7);
  r.format = parse_stored(core::parse_image_format(format), format, kBackend, "image format");
  r.failure_reason = row.optional_text(8);
  r.products_total = row.integer(9);
  r.progress.total = row.integer(10);
  r.progress.succeeded = row.integer(11);
  r.progress.failed = row.integer(12);
  return r;
}

constexpr std::string_view kDeliveryColumns =
    "id, webhook_id, request_id, url, attempts, next_attempt_at, created_at, delivered_at, "
    "last_status, last_error";

core::Delivery read_delivery(const Query& row) {
  core::Delivery d;
  d.id = row.int64(0);
  d.webhook_id = row.text(1);
  d.request_id = row.text(2);
  d.url = row.text(3);
  d.attempts = row.integer(4);
  d.next_attempt_at = row.optional_int64(5).value_or(0);
  d.created_at = row.int64(6);
  d.delivered_at = row.optional_int64(7);
  if (auto status = row.optional_int64(8)) d.last_status = static_cast<int>(*status);
  d.last_error = row.optional_text(9);
  return d;
}

std::string sql(std::string_view head, std::string_view columns, std::string_view tail) {
  std::string text(head);
  text.append(columns).append(tail);
  return text;
}

// Queues the notification for a request that has just ended; called inside the
// transaction that ended it, so a crash cannot separate the two.
void insert_delivery(Connection& db, const std::string& request_id, const std::string& url,
                     core::TimeMs now) {
  Query insert(db,
               "INSERT INTO deliveries (webhook_id, request_id, url, next_attempt_at, created_at)"
               " VALUES (?1, ?2, ?3, ?4, ?4)",
               "queueing a webhook delivery");
  insert.bind(1, "msg_" + core::new_uuid()).bind(2, request_id).bind(3, url).bind(4, now).run();
}

}  // namespace

// A reader connection borrowed from the pool for the length of one call.
class SqliteStore::ReaderLease {
 public:
  ReaderLease(SqliteStore& store, std::unique_ptr<Connection> connection)
      : store_(store), connection_(std::move(connection)) {}
  ~ReaderLease() { store_.return_reader(std::move(connection_)); }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  Connection& operator*() { return *connection_; }

 private:
  SqliteStore& store_;
  std::unique_ptr<Connection> connection_;
};

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

void SqliteStore::return_reader(std::unique_ptr<Connection> connection) {
  // Still in a transaction only if a ROLLBACK failed; a fresh connection is safer.
  if (connection->in_transaction()) return;
  std::lock_guard lock(readers_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(connection));
}

core::CreateOutcome SqliteStore::create_request(const core::NewRequest& request) {
  // Encoded before taking the write lock, which other writers are waiting for.
  const std::string columns = encode_string_list(request.columns);
  std::vector<std::string> fields;
  fields.reserve(request.products.size());
  for (const auto& product : request.products) fields.push_back(encode_string_list(product.fields));
  std::int64_t total = 0;
  for (const auto& product : request.products)
    total += static_cast<std::int64_t>(product.image_urls.size());
  // Nothing to wait for: such a request is over as soon as it exists.
  const bool ended = total == 0;

  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);

  if (request.idempotency_key) {
    Query earlier(db,
                  "SELECT id, fingerprint FROM requests"
                  " WHERE idempotency_key = ?1 AND created_at > ?2"
                  " ORDER BY created_at DESC, seq DESC LIMIT 1",
                  "looking up an idempotency key");
    earlier.bind(1, *request.idempotency_key).bind(2, request.created_at - kIdempotencyWindowMs);
    if (earlier.step()) {
      if (earlier.text(1) == request.fingerprint)
        return {core::CreateOutcome::Kind::replayed, earlier.text(0)};
      return {core::CreateOutcome::Kind::key_conflict, {}};
    }
  }

  Query insert_request(db,
                       "INSERT INTO requests (id, status, created_at, updated_at, columns,"
                       " webhook_url, quality, format, idempotency_key, fingerprint,"
                       " products_total, total)"
                       " VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING seq",
                       "storing a request");
  insert_request.bind(1, request.id)
      .bind(2, core::to_string(ended ? core::RequestStatus::completed
                                     : core::RequestStatus::pending))
      .bind(3, request.created_at)
      .bind(4, columns)
      .bind(5, request.webhook_url)
      .bind(6, request.quality)
      .bind(7, core::to_string(request.format))
      .bind(8, request.idempotency_key)
      .bind(9, request.fingerprint)
      .bind(10, static_cast<std::int64_t>(request.products.size()))
      .bind(11, total);
  insert_request.step();
  const std::int64_t seq = insert_request.int64(0);
  insert_request.reset();

  BatchInsert products(db,
                       "INSERT INTO products (request_seq, idx, serial_number, product_name, fields)"
                       " VALUES ",
                       5, static_cast<std::int64_t>(request.products.size()), "storing products");
  BatchInsert tasks(db,
                    "INSERT INTO tasks (request_seq, product_idx, image_idx, source_url, updated_at)"
                    " VALUES ",
                    5, total, "storing image tasks");
  for (std::size_t p = 0; p < request.products.size(); ++p) {
    const auto& product = request.products[p];
    products.row(seq, static_cast<std::int64_t>(p), product.serial_number, product.product_name,
                 fields[p]);
  }
  for (std::size_t p = 0; p < request.products.size(); ++p) {
    const auto& urls = request.products[p].image_urls;
    for (std::size_t i = 0; i < urls.size(); ++i)
      tasks.row(seq, static_cast<std::int64_t>(p), static_cast<std::int64_t>(i), urls[i],
                request.created_at);
  }
  products.finish();
  tasks.finish();
  if (ended && request.webhook_url)
    insert_delivery(db, request.id, *request.webhook_url, request.created_at);

  transaction.commit();
  return {core::CreateOutcome::Kind::created, request.id};
}

std::optional<core::RequestRecord> SqliteStore::get_request(const std::string& id) {
  auto db = reader();
  Query query(*db, sql("SELECT ", kRequestColumns, " FROM requests WHERE id = ?1"),
              "reading a request");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_request(query);
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
                "SELECT idx, serial_number, product_name, fields FROM products"
                " WHERE request_seq = (SELECT seq FROM requests WHERE id = ?1)"
                " AND idx >= ?2 AND idx < ?3 ORDER BY idx",
                "reading products");
    query.bind(1, request_id).bind(2, first).bind(3, end);
    while (query.step()) {
      core::ProductRecord& p = products.emplace_back();
      p.index = query.integer(0);
      p.serial_number = query.text(1);
      p.product_name = query.text(2);
      p.fields = decode_string_list(query.text(3));
    }
  }
  if (products.empty()) return products;
  {
    Query query(*db,
                "SELECT product_idx, image_idx, source_url, state, attempts, output_name, error,"
                " bytes_in, bytes_out FROM tasks"
                " WHERE request_seq = (SELECT seq FROM requests WHERE id = ?1)"
                " AND product_idx >= ?2 AND product_idx < ?3"
                " ORDER BY product_idx, image_idx",
                "reading the images of products");
    query.bind(1, request_id).bind(2, first).bind(3, end);
    while (query.step()) {
      const std::int64_t position = query.int64(0) - first;
      if (position < 0 || position >= static_cast<std::int64_t>(products.size())) continue;
      core::ImageRecord& image = products[static_cast<std::size_t>(position)].images.emplace_back();
      image.index = query.integer(1);
      image.source_url = query.text(2);
      const std::string state = query.text(3);
      image.state = parse_stored(core::parse_task_state(state), state, kBackend, "task state");
      image.attempts = query.integer(4);
      image.output_name = query.optional_text(5);
      image.error = query.optional_text(6);
      image.bytes_in = query.int64(7);
      image.bytes_out = query.int64(8);
    }
  }
  snapshot.commit();
  return products;
}

std::vector<core::RequestRecord> SqliteStore::list_requests(int limit, int offset) {
  std::vector<core::RequestRecord> requests;
  if (limit <= 0) return requests;
  auto db = reader();
  Query query(*db,
              sql("SELECT ", kRequestColumns,
                  " FROM requests ORDER BY created_at DESC, seq DESC LIMIT ?1 OFFSET ?2"),
              "listing requests");
  query.bind(1, limit).bind(2, std::max(offset, 0));
  while (query.step()) requests.push_back(read_request(query));
  return requests;
}

std::vector<core::ClaimedTask> SqliteStore::claim_tasks(const std::string& owner, int max,
                                                        core::TimeMs now, core::TimeMs lease_ms) {
  std::vector<core::ClaimedTask> claimed;
  if (max <= 0) return claimed;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  std::vector<std::int64_t> seqs;  // each task's request, parallel to `claimed`
  {
    // The literal state = 'pending' lets SQLite use the partial index tasks_claimable.
    Query claim(db,
                "UPDATE tasks SET state = 'running', lease_owner = ?1, lease_expires = ?2,"
                " attempts = attempts + 1, updated_at = ?3"
                " WHERE id IN (SELECT id FROM tasks WHERE state = 'pending' AND not_before <= ?3"
                " ORDER BY id LIMIT ?4)"
                " RETURNING id, request_seq, product_idx, image_idx, source_url, attempts",
                "claiming tasks");
    claim.bind(1, owner).bind(2, now + lease_ms).bind(3, now).bind(4, max);
    while (claim.step()) {
      core::ClaimedTask& task = claimed.emplace_back();
      task.task_id = claim.int64(0);
      seqs.push_back(claim.int64(1));
      task.product_index = claim.integer(2);
      task.image_index = claim.integer(3);
      task.source_url = claim.text(4);
      task.attempt = claim.integer(5);
    }
  }

  struct RequestSettings {
    std::string id;
    int quality;
    core::ImageFormat format;
  };
  std::unordered_map<std::int64_t, RequestSettings> requests;
  for (std::size_t k = 0; k < claimed.size(); ++k) {
    auto it = requests.find(seqs[k]);
    if (it == requests.end()) {
      Query start(db,
                  "UPDATE requests SET status = 'processing', updated_at = ?2"
                  " WHERE seq = ?1 AND status = 'pending'",
                  "marking a request as processing");
      start.bind(1, seqs[k]).bind(2, now).run();
      Query read(db, "SELECT id, quality, format FROM requests WHERE seq = ?1",
                 "reading a request's output settings");
      read.bind(1, seqs[k]);
      if (!read.step())
        throw StoreError("sqlite: task " + std::to_string(claimed[k].task_id) +
                         " belongs to a missing request");
      const std::string format = read.text(2);
      it = requests
               .emplace(seqs[k],
                        RequestSettings{read.text(0), read.integer(1),
                                        parse_stored(core::parse_image_format(format), format,
                                                     kBackend, "image format")})
               .first;
    }
    claimed[k].request_id = it->second.id;
    claimed[k].quality = it->second.quality;
    claimed[k].format = it->second.format;
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
  return db.changes();
}

int SqliteStore::release_leases(const std::string& owner) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Query release(db,
                "UPDATE tasks SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                " updated_at = ?2 WHERE state = 'running' AND lease_owner = ?1",
                "releasing the leases of an owner");
  release.bind(1, owner).bind(2, core::now_ms()).run();
  return db.changes();
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
  for (const core::TaskOutcome& outcome : outcomes) {
    // `state IN ('pending', 'running')` is what makes counting exactly-once: an outcome
    // for a task that has already ended (a duplicate, or a late report from a worker
    // whose lease expired and whose task was redone) changes nothing. The task's own
    // request is used, not the one the outcome names.
    std::optional<std::int64_t> seq;
    const char* counter = nullptr;
    switch (outcome.kind) {
      case core::TaskOutcome::Kind::succeeded: {
        Query done(db,
                   "UPDATE tasks SET state = 'done', output_name = ?2, bytes_in = ?3,"
                   " bytes_out = ?4, lease_owner = NULL, lease_expires = NULL, updated_at = ?5"
                   " WHERE id = ?1 AND state IN ('pending', 'running') RETURNING request_seq",
                   "recording a finished task");
        done.bind(1, outcome.task_id)
            .bind(2, outcome.output_name)
            .bind(3, outcome.bytes_in)
            .bind(4, outcome.bytes_out)
            .bind(5, now);
        if (done.step()) seq = done.int64(0);
        counter = "UPDATE requests SET succeeded = succeeded + 1, updated_at = ?2 WHERE seq = ?1";
        break;
      }
      case core::TaskOutcome::Kind::failed: {
        Query failed(db,
                     "UPDATE tasks SET state = 'failed', error = ?2, bytes_in = ?3,"
                     " bytes_out = ?4, lease_owner = NULL, lease_expires = NULL, updated_at = ?5"
                     " WHERE id = ?1 AND state IN ('pending', 'running') RETURNING request_seq",
                     "recording a failed task");
        failed.bind(1, outcome.task_id)
            .bind(2, outcome.error)
            .bind(3, outcome.bytes_in)
            .bind(4, outcome.bytes_out)
            .bind(5, now);
        if (failed.step()) seq = failed.int64(0);
        counter = "UPDATE requests SET failed = failed + 1, updated_at = ?2 WHERE seq = ?1";
        break;
      }
      case core::TaskOutcome::Kind::retry: {
        // The attempt was counted when the task was claimed.
        Query retry(db,
                    "UPDATE tasks SET state = 'pending', not_before = ?2, error = ?3,"
                    " lease_owner = NULL, lease_expires = NULL, updated_at = ?4"
                    " WHERE id = ?1 AND state = 'running' AND lease_owner = ?5",
                    "scheduling a task retry");
        retry.bind(1, outcome.task_id)
            .bind(2, outcome.retry_at)
            .bind(3, outcome.error)
            .bind(4, now)
            .bind(5, outcome.owner)
            .run();
        break;
      }
    }
    if (!seq) continue;
    Query count(db, counter, "updating request progress");
    count.bind(1, *seq).bind(2, now).run();
    if (std::find(ended_in.begin(), ended_in.end(), *seq) == ended_in.end())
      ended_in.push_back(*seq);
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
  transaction.commit();
  return completed;
}

bool SqliteStore::fail_request(const std::string& request_id, const std::string& reason,
                               core::TimeMs now) {
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Transaction transaction(db, Transaction::Kind::write);
  std::int64_t seq = 0;
  std::optional<std::string> webhook_url;
  {
    Query fail(db,
               "UPDATE requests SET status = 'failed', failure_reason = ?2, updated_at = ?3"
               " WHERE id = ?1 AND (status = 'pending' OR status = 'processing')"
               " RETURNING seq, webhook_url",
               "failing a request");
    fail.bind(1, request_id).bind(2, reason).bind(3, now);
    if (!fail.step()) return false;  // unknown, or already ended
    seq = fail.int64(0);
    webhook_url = fail.optional_text(1);
  }
  Query fail_tasks(db,
                   "UPDATE tasks SET state = 'failed', error = ?2, lease_owner = NULL,"
                   " lease_expires = NULL, updated_at = ?3"
                   " WHERE request_seq = ?1 AND (state = 'pending' OR state = 'running')",
                   "failing the open tasks of a request");
  fail_tasks.bind(1, seq).bind(2, reason).bind(3, now).run();
  const int failed_tasks = db.changes();
  Query count(db, "UPDATE requests SET failed = failed + ?2 WHERE seq = ?1",
              "updating request progress");
  count.bind(1, seq).bind(2, failed_tasks).run();
  if (webhook_url) insert_delivery(db, request_id, *webhook_url, now);
  transaction.commit();
  return true;
}

std::vector<core::Delivery> SqliteStore::claim_deliveries(core::TimeMs now, int max,
                                                          core::TimeMs lease_ms) {
  std::vector<core::Delivery> claimed;
  if (max <= 0) return claimed;
  std::lock_guard lock(writer_mutex_);
  Connection& db = *writer_;
  Query claim(db,
              sql("UPDATE deliveries SET lease_expires = ?2 WHERE id IN (SELECT id FROM deliveries"
                  " WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL"
                  " AND next_attempt_at <= ?1 AND (lease_expires IS NULL OR lease_expires < ?1)"
                  " ORDER BY next_attempt_at, id LIMIT ?3) RETURNING ",
                  kDeliveryColumns, ""),
              "claiming webhook deliveries");
  claim.bind(1, now).bind(2, now + lease_ms).bind(3, max);
  while (claim.step()) claimed.push_back(read_delivery(claim));
  std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
    return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
  });
  return claimed;
}

void SqliteStore::record_delivery_attempt(const core::DeliveryAttempt& attempt,
                                          core::TimeMs now) {
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
    record.bind(1, attempt.delivery_id).bind(2, attempt.http_status).bind(3, attempt.error)
        .bind(4, now).run();
  } else {
    // A null next_attempt_at is the give-up mark: the claim query never selects it.
    Query record(db,
                 "UPDATE deliveries SET attempts = attempts + 1, last_status = ?2,"
                 " last_error = ?3, next_attempt_at = ?4, lease_expires = NULL"
                 " WHERE id = ?1 AND delivered_at IS NULL",
                 "recording a failed webhook attempt");
    record.bind(1, attempt.delivery_id).bind(2, attempt.http_status).bind(3, attempt.error)
        .bind(4, attempt.next_attempt_at).run();
  }
}

std::vector<core::Delivery> SqliteStore::get_deliveries(const std::string& request_id) {
  std::vector<core::Delivery> deliveries;
  auto db = reader();
  Query query(*db,
              sql("SELECT ", kDeliveryColumns, " FROM deliveries WHERE request_id = ?1 ORDER BY id"),
              "reading webhook deliveries");
  query.bind(1, request_id);
  while (query.step()) deliveries.push_back(read_delivery(query));
  return deliveries;
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
    Query query(*db, "SELECT count(*) FROM schema_version", "pinging the database");
    return query.step();
  } catch (const StoreError&) {
    return false;
  }
}

}  // namespace imgbatch::store::sqlite
