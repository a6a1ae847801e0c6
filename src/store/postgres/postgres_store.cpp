#include "postgres/postgres_store.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/ended.hpp"
#include "common/new_request.hpp"
#include "common/output_names.hpp"
#include "common/quota.hpp"
#include "common/records.hpp"
#include "common/turns.hpp"
#include "postgres/conninfo.hpp"
#include "postgres/listen_watch.hpp"
#include "postgres/presence.hpp"
#include "postgres/schema.hpp"
#include "postgres/text.hpp"
#include "stored_value.hpp"

namespace imgbatch::store::postgres {

namespace {

constexpr std::string_view kBackend = "postgresql";  // names this backend in errors

// Connections per Store: calls are short, so a few serve the HTTP threads, the workers and
// the dispatcher of one process without making the server hold a backend per thread.
constexpr std::size_t kPoolSize = 4;
// Deadlocks need two transactions locking two requests in opposite orders; they are rare
// and the server resolves each by rolling one back, so a few more runs are plenty.
constexpr int kMaxConflictRetries = 5;
// The first key of the advisory locks that serialise uses of one idempotency key
// ("imgb" in ASCII); the second is the key's hash.
constexpr int kIdempotencyLockSpace = 0x696d6762;
// The first key of the advisory lock that lets one node at a time run retention steps
// ("imgr" in ASCII).
constexpr int kRetentionLockSpace = 0x696d6772;
// The advisory lock that claims take in turn ("imgc" in ASCII; the second key is the
// schema's, so that deployments sharing a database in schemas of their own do not wait
// for each other). A claim must not take a task whose source another owner is
// downloading (source_free below), and two claims at once in READ COMMITTED would each
// see the other's tasks still pending and both take one of the same new source. Taking
// turns makes each claim's statements see what every earlier claim leased (a transaction
// lock is released after its commit is visible). A claim holds it for milliseconds.
// It cannot deadlock: a claim takes it first, holding no other lock; while holding it, it
// may wait for request rows that a finisher, a cancel or a purge holds, but none of those
// ever asks for this lock. The other advisory locks (migrations: one bigint key;
// idempotency keys and presence: space "imgb"; retention: "imgr", tried without waiting)
// are other keys, and no transaction takes one of them together with this one.
const std::string kClaimLock =
    "SELECT pg_advisory_xact_lock(" + std::to_string(0x696d6763) + ", hashtext(current_schema()))";
// COPY data goes to libpq in pieces of about this size, so that a huge request never
// needs its whole text form in memory.
constexpr std::size_t kCopyChunkBytes = std::size_t{256} * 1024;

const std::string kNotifyWork = "NOTIFY " + std::string(kWorkChannel);

struct PendingDelivery {
  std::string request_id;
  std::string url;
};

// Queues the notifications of requests that have just ended; called inside the
// transaction that ended them, so a crash cannot separate the two.
void insert_deliveries(Connection& db, const std::vector<PendingDelivery>& deliveries,
                       core::TimeMs now) {
  if (deliveries.empty()) return;
  std::vector<std::optional<std::string>> webhook_ids, request_ids, urls;
  for (const auto& d : deliveries) {
    webhook_ids.emplace_back(common::new_webhook_id());
    request_ids.emplace_back(d.request_id);
    urls.emplace_back(d.url);
  }
  db.query(
      "INSERT INTO deliveries (webhook_id, request_id, url, next_attempt_at, created_at)"
      " SELECT webhook_id, request_id, url, $4, $4"
      " FROM unnest($1::text[], $2::text[], $3::text[]) AS d (webhook_id, request_id, url)",
      Params()
          .add_literal(array_literal(webhook_ids))
          .add_literal(array_literal(request_ids))
          .add_literal(array_literal(urls))
          .add(now),
      "queueing webhook deliveries");
}

// Calls send(chunk) with the rows that write_row(p, row) appends for p in [0, count),
// in pieces of about kCopyChunkBytes.
template <class WriteRow, class Send>
void send_rows(std::size_t count, WriteRow&& write_row, Send&& send) {
  std::string chunk;
  chunk.reserve(kCopyChunkBytes + 4096);
  for (std::size_t k = 0; k < count; ++k) {
    write_row(k, chunk);
    if (chunk.size() >= kCopyChunkBytes) {
      send(std::string_view(chunk));
      chunk.clear();
    }
  }
  if (!chunk.empty()) send(std::string_view(chunk));
}

// A pending task `t` may be claimed unless another owner holds a task of the same source
// under a live lease (docs/architecture.md, "Shared sources and outputs"): it waits for
// that download instead of starting its own. An expired lease does not hold it (that owner
// may be dead). $1 is the claimer, `now` the claim's time; tasks_running_by_source finds
// the holders. Sound only under kClaimLock (which says why).
std::string source_free(std::string_view now) {
  return "(t.source_key IS NULL OR NOT EXISTS (SELECT 1 FROM tasks held"
         " WHERE held.source_key = t.source_key AND held.state = 'running'"
         " AND held.lease_owner <> $1 AND held.lease_expires > " +
         std::string(now) + "))";
}

// Fair turns (common/turns.hpp): the unfinished requests, each with how many of its tasks
// are ready, counted up to the claim size ($3) by the index tasks_claimable.
const std::string kTurnCandidates = R"sql(
SELECT requests.seq, coalesce(requests.owner_key, ''), requests.last_turn, ready.n
FROM requests CROSS JOIN LATERAL (
  SELECT count(*) AS n FROM (
    SELECT 1 FROM tasks t
    WHERE t.request_seq = requests.seq AND t.state = 'pending' AND t.not_before <= $2
      AND )sql" + source_free("$2") +
                                    R"sql(
    LIMIT $3) AS first_ready
) AS ready
WHERE requests.status IN ('pending', 'processing')
)sql";

// Claims what the plan of turns says ($4: requests, $5: how many tasks, $6: their
// last_turn after). The requests' rows are locked first, in seq order, as finish_tasks
// locks them: two transactions that lock several requests in opposite orders deadlock,
// and every claim now writes its requests' last_turn. Then the tasks are picked and
// locked (a MATERIALIZED CTE runs once), skipping rows that another claimer has locked and
// tasks whose source another owner holds (source_free), then leased; the requests that got
// tasks take their turn and become processing, and each task comes back with its
// request's output settings. A claim that waited for the row locks planned from rows another
// claim has since moved on: GREATEST keeps its smaller turn from taking last_turn back.
const std::string kClaimTasks = R"sql(
WITH turn AS (
  SELECT * FROM unnest($4::bigint[], $5::int[], $6::bigint[]) AS t (seq, tasks, last_turn)
), locked AS MATERIALIZED (
  SELECT requests.seq FROM requests JOIN turn ON requests.seq = turn.seq
  ORDER BY requests.seq
  FOR UPDATE OF requests
), picked AS MATERIALIZED (
  SELECT first.id FROM turn JOIN locked ON locked.seq = turn.seq CROSS JOIN LATERAL (
    SELECT t.id FROM tasks t
    WHERE t.request_seq = turn.seq AND t.state = 'pending' AND t.not_before <= $3
      AND )sql" + source_free("$3") +
                                R"sql(
    ORDER BY t.id
    LIMIT turn.tasks
    FOR UPDATE OF t SKIP LOCKED
  ) AS first
), claimed AS (
  UPDATE tasks SET state = 'running', lease_owner = $1, lease_expires = $2,
                   attempts = tasks.attempts + 1, updated_at = $3
  FROM picked WHERE tasks.id = picked.id
  RETURNING tasks.id, tasks.request_seq, tasks.product_idx, tasks.image_idx,
            tasks.source_url, tasks.attempts, tasks.source_key
), started AS (
  UPDATE requests SET last_turn = GREATEST(requests.last_turn, turn.last_turn),
    status = 'processing',
    updated_at = CASE WHEN requests.status = 'pending' THEN $3 ELSE requests.updated_at END
  FROM turn
  WHERE requests.seq = turn.seq AND requests.seq IN (SELECT request_seq FROM claimed)
)
SELECT claimed.id, requests.id, claimed.product_idx, claimed.image_idx, claimed.source_url,
       claimed.attempts, requests.quality, requests.format, claimed.source_key,
       requests.created_at, )sql" +
                                std::string(common::kOutputChoiceColumns) + R"sql(
FROM claimed JOIN requests ON requests.seq = claimed.request_seq
ORDER BY claimed.id
)sql";

// Retries, one row per task (the first that applies): only while the reporting owner
// still holds the task running. The attempt was counted when the task was claimed.
constexpr std::string_view kScheduleRetries = R"sql(
UPDATE tasks SET state = 'pending', not_before = retry.retry_at, error = retry.error,
                 lease_owner = NULL, lease_expires = NULL, updated_at = $5
FROM (
  SELECT DISTINCT ON (o.id) o.id, o.retry_at, o.error, o.owner
  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY
         AS o (id, retry_at, error, owner, n)
  JOIN tasks ON tasks.id = o.id AND tasks.state = 'running' AND tasks.lease_owner = o.owner
  ORDER BY o.id, o.n
) AS retry
WHERE tasks.id = retry.id AND tasks.state = 'running' AND tasks.lease_owner = retry.owner
)sql";

// Succeeded and failed outcomes, the first one per task. `state IN ('pending', 'running')`
// makes counting exactly-once: an outcome for a task that has already ended (a duplicate,
// a late report from a worker whose task was redone) changes nothing, and of two
// concurrent reports the second waits for the first's row lock, then sees the task ended.
// Each request's counters move by what ended in this call; the request rows are locked in
// seq order first (as claims lock them, so that the two never deadlock), and the row's lock
// orders concurrent finishers, so exactly one of them sees its counters reach the total, and
// that one alone reports the request as completed (in the order of the outcomes).
constexpr std::string_view kEndTasks = R"sql(
WITH outcome AS (
  SELECT DISTINCT ON (id) id, state, output_name, error, bytes_in, bytes_out, quality_used,
         score, kept, blob_key, reused, n
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
              $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::text[])
         WITH ORDINALITY
         AS o (id, state, output_name, error, bytes_in, bytes_out, quality_used, score, kept,
               blob_key, reused, n)
  ORDER BY id, n
), ended AS (
  UPDATE tasks SET
    state = outcome.state,
    output_name = CASE WHEN outcome.state = 'done' THEN outcome.output_name
                       ELSE tasks.output_name END,
    error = CASE WHEN outcome.state = 'failed' THEN outcome.error ELSE tasks.error END,
    bytes_in = outcome.bytes_in, bytes_out = outcome.bytes_out,
    quality_used = outcome.quality_used, score = outcome.score::double precision,
    kept = outcome.kept, lease_owner = NULL, lease_expires = NULL, updated_at = $7,
    -- A done task names the image it uses: the outcome's key, or its own REQUEST/NAME.
    blob_key = CASE WHEN outcome.state = 'done'
                    THEN coalesce(outcome.blob_key, (SELECT id FROM requests
                                  WHERE seq = tasks.request_seq) || '/' || outcome.output_name)
               END,
    reused = outcome.reused
  FROM outcome
  WHERE tasks.id = outcome.id AND tasks.state IN ('pending', 'running')
  RETURNING tasks.request_seq, tasks.state, tasks.reused, outcome.n
), tally AS (
  SELECT request_seq, count(*) FILTER (WHERE state = 'done') AS succeeded,
         count(*) FILTER (WHERE state = 'failed') AS failed,
         count(*) FILTER (WHERE reused IS NOT NULL) AS reused, min(n) AS first
  FROM ended GROUP BY request_seq
), locked AS MATERIALIZED (
  SELECT requests.seq FROM requests JOIN tally ON requests.seq = tally.request_seq
  ORDER BY requests.seq
  FOR UPDATE OF requests
), progressed AS (
  UPDATE requests SET
    succeeded = requests.succeeded + tally.succeeded,
    failed = requests.failed + tally.failed,
    reused = requests.reused + tally.reused,
    updated_at = $7,
    status = CASE WHEN requests.status IN ('pending', 'processing')
                       AND requests.succeeded + tally.succeeded + requests.failed + tally.failed
                           >= requests.total
                  THEN 'completed' ELSE requests.status END
  FROM tally JOIN locked ON locked.seq = tally.request_seq
  WHERE requests.seq = tally.request_seq
  -- New values: completed by this statement if the counters were below the total before.
  RETURNING requests.id, requests.webhook_url, tally.first,
            requests.status = 'completed'
              AND requests.succeeded + requests.failed - tally.succeeded - tally.failed
                  < requests.total AS completed_now
)
SELECT id, webhook_url FROM progressed WHERE completed_now ORDER BY first
)sql";

// Store::cancel_request (sqlite_store.cpp's kCancelTasks says why these columns). The
// request row is locked first: a finish_tasks that already holds some of these tasks'
// rows waits for it or has committed, and either way sees or leaves its tasks ended.
constexpr std::string_view kCancelTasks = R"sql(
UPDATE tasks SET state = 'failed', error = 'cancelled', lease_owner = NULL,
                 lease_expires = NULL, updated_at = $2
WHERE request_seq = $1 AND state IN ('pending', 'running')
)sql";

// finish_tasks, after kEndTasks: the images stored for tasks a cancel dropped are queued
// for removal (sqlite_store.cpp's kQueueCancelledImage).
constexpr std::string_view kQueueCancelledImages = R"sql(
INSERT INTO blob_deletions (key)
SELECT requests.id || '/' || o.output_name
FROM unnest($1::bigint[], $2::text[]) AS o (id, output_name)
JOIN tasks ON tasks.id = o.id
JOIN requests ON requests.seq = tasks.request_seq
WHERE o.output_name IS NOT NULL AND tasks.state = 'failed' AND tasks.output_name IS NULL
  AND requests.status = 'cancelled'
ORDER BY o.id
ON CONFLICT DO NOTHING
)sql";

}  // namespace

template <class Body>
auto PostgresStore::run(std::string_view doing, Body&& body) {
  int conflicts = 0;
  bool reconnected = false;
  while (true) {
    ConnectionPool::Lease lease = pool_.borrow();
    try {
      return body(*lease);
    } catch (const ConnectionLost& lost) {
      lease.discard();
      if (lost.outcome_unknown())
        throw StoreError(std::string(lost.what()) + " (the connection broke during the commit of " +
                         std::string(doing) + ", so whether it was saved is unknown)");
      if (reconnected) throw;
      reconnected = true;
    } catch (const TransientConflict&) {
      if (++conflicts > kMaxConflictRetries) throw;
    }
  }
}

PostgresStore::PostgresStore(const std::string& uri, SessionSettings settings)
    : uri_(uri), settings_(settings), pool_(uri, settings, kPoolSize) {
  describe_target(uri);  // a malformed URI fails here with its own message
  run("migrating the schema", [&](Connection& db) {
    migrate(db);
    return 0;
  });
}

PostgresStore::~PostgresStore() = default;

namespace {

// Charges the upload to its key's api_key_usage row (common/quota.hpp), locked FOR UPDATE
// (created first if the key has none); writes it only when the upload is allowed. Runs in
// create_request's transaction.
common::QuotaCharge charge_quota(Connection& db, const core::NewRequest& request,
                                 std::int64_t images) {
  const std::string key = request.owner_key.value_or("");
  const core::TimeMs now = request.created_at;
  const common::KeyUsage fresh = common::fresh_usage(*request.quota, now);
  db.query(
      "INSERT INTO api_key_usage (key_id, day_start, images_today, token_micros, refilled_at)"
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING",
      Params()
          .add(key)
          .add(fresh.day_start)
          .add(fresh.images_today)
          .add(fresh.token_micros)
          .add(fresh.refilled_at),
      "adding a key's usage");
  const Result row = db.query(
      "SELECT day_start, images_today, token_micros, refilled_at FROM api_key_usage"
      " WHERE key_id = $1 FOR UPDATE",
      Params().add(key), "locking a key's usage");
  const common::KeyUsage usage{row.int64(0, 0), row.int64(0, 1), row.int64(0, 2), row.int64(0, 3)};
  auto charge = common::charge_upload(usage, *request.quota, images, now);
  if (!charge.allowed) return charge;
  db.query(
      "UPDATE api_key_usage SET day_start = $2, images_today = $3, token_micros = $4,"
      " refilled_at = $5 WHERE key_id = $1",
      Params()
          .add(key)
          .add(charge.after.day_start)
          .add(charge.after.images_today)
          .add(charge.after.token_micros)
          .add(charge.after.refilled_at),
      "charging a key's usage");
  return charge;
}

}  // namespace

core::CreateOutcome PostgresStore::create_request(const core::NewRequest& request) {
  const common::PreparedRequest prepared(request);

  return run("storing a request", [&](Connection& db) -> core::CreateOutcome {
    Transaction transaction(db);
    if (request.idempotency_key) {
      // Two uploads with one key at once: the second waits here until the first commits,
      // then finds it (SQLite gets the same from its single writer). Taken in a statement
      // of its own, so that the lookup's snapshot is taken after the wait.
      db.query("SELECT pg_advisory_xact_lock($1, hashtext($2))",
               Params().add(kIdempotencyLockSpace).add(*request.idempotency_key),
               "locking an idempotency key");
      const Result earlier = db.query(
          "SELECT id, fingerprint FROM requests"
          " WHERE idempotency_key = $1 AND created_at > $2"
          " AND owner_key IS NOT DISTINCT FROM $3 AND deleted_at IS NULL"
          " ORDER BY created_at DESC, seq DESC LIMIT 1",
          Params()
              .add(*request.idempotency_key)
              .add(prepared.idempotency_cutoff())
              .add(request.owner_key),
          "looking up an idempotency key");
      if (earlier.rows() > 0)
        return common::earlier_use(earlier.text(0, 0),
                                   earlier.view(0, 1) == storable_text(request.fingerprint));
    }

    // Charged after the replay check (a replay is not charged again), with the key's usage
    // row locked until this transaction ends: concurrent uploads of one key, from any
    // node, are charged one after the other.
    std::optional<core::QuotaState> quota;
    if (request.quota) {
      auto charge = charge_quota(db, request, prepared.total);
      if (!charge.allowed) return {core::CreateOutcome::Kind::over_quota, {}, charge.state};
      quota = charge.state;
    }

    const std::int64_t seq =
        db.query(
              "INSERT INTO requests (id, status, created_at, updated_at, columns,"
              " webhook_url, quality, format, idempotency_key, fingerprint,"
              " products_total, total, owner_key, quality_target, max_bytes, never_larger,"
              " sizes, min_quality)"
              " VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
              " $16, $17) RETURNING seq",
              Params()
                  .add(request.id)
                  .add(prepared.status())
                  .add(request.created_at)
                  .add(prepared.columns)
                  .add(request.webhook_url)
                  .add(request.quality)
                  .add(core::to_string(request.format))
                  .add(request.idempotency_key)
                  .add(request.fingerprint)
                  .add(prepared.products())
                  .add(prepared.total)
                  .add(request.owner_key)
                  .add(request.choices.quality_target)
                  .add(request.choices.max_bytes)
                  .add(request.choices.never_larger ? 1 : 0)
                  .add(core::format_output_sizes(request.choices.sizes))
                  .add(request.choices.min_quality),
              "storing a request")
            .int64(0, 0);

    // COPY: the bulk path, several times faster than INSERTs for a large upload.
    db.copy_in("COPY products (request_seq, idx, serial_number, product_name, fields) FROM STDIN",
               "storing products", [&](auto send) {
                 send_rows(
                     request.products.size(),
                     [&](std::size_t p, std::string& row) {
                       const auto& product = request.products[p];
                       append_copy_field(row, seq);
                       row += '\t';
                       append_copy_field(row, static_cast<std::int64_t>(p));
                       row += '\t';
                       append_copy_field(row, product.serial_number);
                       row += '\t';
                       append_copy_field(row, product.product_name);
                       row += '\t';
                       append_copy_field(row, prepared.fields[p]);
                       row += '\n';
                     },
                     send);
               });
    db.copy_in(
        "COPY tasks (request_seq, product_idx, image_idx, source_url, updated_at, source_key)"
        " FROM STDIN",
        "storing image tasks", [&](auto send) {
          std::size_t image = 0;  // the task's position in source_keys
          send_rows(
              request.products.size(),
              [&](std::size_t p, std::string& rows) {
                const auto& urls = request.products[p].image_urls;
                for (std::size_t i = 0; i < urls.size(); ++i, ++image) {
                  append_copy_field(rows, seq);
                  rows += '\t';
                  append_copy_field(rows, static_cast<std::int64_t>(p));
                  rows += '\t';
                  append_copy_field(rows, static_cast<std::int64_t>(i));
                  rows += '\t';
                  append_copy_field(rows, urls[i]);
                  rows += '\t';
                  append_copy_field(rows, request.created_at);
                  rows += '\t';
                  if (image < request.source_keys.size() && !request.source_keys[image].empty())
                    append_copy_field(rows, request.source_keys[image]);
                  else
                    rows += "\\N";  // COPY's NULL: not shared
                  rows += '\n';
                }
              },
              send);
        });
    if (prepared.delivers_at_once())
      insert_deliveries(db, {{request.id, *request.webhook_url}}, request.created_at);
    // Delivered to the listeners when (and only if) the transaction commits.
    if (!prepared.ended) db.exec(kNotifyWork, "announcing new work");
    transaction.commit("committing a request");
    return {core::CreateOutcome::Kind::created, request.id, quota};
  });
}

std::optional<core::RequestRecord> PostgresStore::get_request(const std::string& id) {
  return run("reading a request", [&](Connection& db) -> std::optional<core::RequestRecord> {
    const Result rows =
        db.query(common::select_sql("SELECT ", common::kRequestColumns,
                                    " FROM requests WHERE id = $1 AND deleted_at IS NULL"),
                 Params().add(id), "reading a request");
    if (rows.rows() == 0) return std::nullopt;
    return common::read_request(rows.row(0), kBackend);
  });
}

std::vector<core::ProductRecord> PostgresStore::get_products(const std::string& request_id,
                                                             int offset, int limit) {
  if (limit <= 0) return {};
  const std::int64_t first = std::max(offset, 0);
  const std::int64_t end = first + limit;
  return run("reading products", [&](Connection& db) {
    // One statement, so one snapshot: a page never mixes images from before and after a
    // write. Product indexes are 0..n-1 without gaps, so the page is a key range.
    const Result rows =
        db.query(common::select_sql("SELECT ", common::kProductColumns, ", ") +
                     std::string(common::kImageColumns) +
                     " FROM products p LEFT JOIN tasks t"
                     " ON t.request_seq = p.request_seq AND t.product_idx = p.idx"
                     " WHERE p.request_seq = (SELECT seq FROM requests WHERE id = $1"
                     " AND deleted_at IS NULL)"
                     " AND p.idx >= $2 AND p.idx < $3"
                     " ORDER BY p.idx, t.image_idx",
                 Params().add(request_id).add(first).add(end), "reading products");
    std::vector<core::ProductRecord> products;
    for (int r = 0; r < rows.rows(); ++r) {
      const Result::Row row = rows.row(r);
      if (products.empty() || products.back().index != row.integer(0))
        products.push_back(common::read_product(row));
      if (row.is_null(common::kProductColumnCount)) continue;  // a product without images
      products.back().images.push_back(
          common::read_image(row, common::kProductColumnCount, kBackend));
    }
    return products;
  });
}

std::optional<std::string> PostgresStore::image_key(const std::string& request_id, int product,
                                                    int image) {
  return run("looking up an image's key", [&](Connection& db) -> std::optional<std::string> {
    const Result rows = db.query(
        "SELECT t.blob_key FROM tasks t JOIN requests r ON r.seq = t.request_seq"
        " WHERE r.id = $1 AND r.deleted_at IS NULL AND t.product_idx = $2"
        " AND t.image_idx = $3 AND t.state = 'done'",
        Params().add(request_id).add(product).add(image), "looking up an image's key");
    if (rows.rows() == 0 || rows.is_null(0, 0)) return std::nullopt;
    return rows.text(0, 0);
  });
}

std::vector<core::RequestRecord> PostgresStore::list_requests(int limit, int offset) {
  if (limit <= 0) return {};
  return run("listing requests", [&](Connection& db) {
    const Result rows =
        db.query(common::select_sql("SELECT ", common::kRequestColumns,
                                    " FROM requests WHERE deleted_at IS NULL"
                                    " ORDER BY created_at DESC, seq DESC LIMIT $1 OFFSET $2"),
                 Params().add(limit).add(std::max(offset, 0)), "listing requests");
    std::vector<core::RequestRecord> requests;
    requests.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row)
      requests.push_back(common::read_request(rows.row(row), kBackend));
    return requests;
  });
}

std::vector<core::RequestRecord> PostgresStore::list_requests_of(const std::string& owner_key,
                                                                 int limit, int offset) {
  if (limit <= 0) return {};
  return run("listing the requests of a key", [&](Connection& db) {
    const Result rows =
        db.query(common::select_sql("SELECT ", common::kRequestColumns,
                                    " FROM requests WHERE owner_key = $3 AND deleted_at IS NULL"
                                    " ORDER BY created_at DESC, seq DESC LIMIT $1 OFFSET $2"),
                 Params().add(limit).add(std::max(offset, 0)).add(owner_key),
                 "listing the requests of a key");
    std::vector<core::RequestRecord> requests;
    requests.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row)
      requests.push_back(common::read_request(rows.row(row), kBackend));
    return requests;
  });
}

bool PostgresStore::create_api_key(const core::NewApiKey& key) {
  return run("storing an API key", [&](Connection& db) {
    // ON CONFLICT DO NOTHING: a name in use by a key not revoked (the partial unique
    // index) stores nothing and returns no row.
    return db.query(
                 "INSERT INTO api_keys (id, name, token_hash, admin, images_per_day,"
                 " uploads_per_minute, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                 " ON CONFLICT DO NOTHING RETURNING id",
                 Params()
                     .add(key.id)
                     .add(key.name)
                     .add(key.token_hash)
                     .add(key.admin ? 1 : 0)
                     .add(key.images_per_day)
                     .add(key.uploads_per_minute)
                     .add(key.created_at),
                 "storing an API key")
               .rows() > 0;
  });
}

std::vector<core::ApiKeyRecord> PostgresStore::list_api_keys() {
  return run("listing API keys", [&](Connection& db) {
    const Result rows = db.query(common::select_sql("SELECT ", common::kApiKeyColumns,
                                                    " FROM api_keys ORDER BY created_at, id"),
                                 "listing API keys");
    std::vector<core::ApiKeyRecord> keys;
    keys.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row) keys.push_back(common::read_api_key(rows.row(row)));
    return keys;
  });
}

bool PostgresStore::revoke_api_key(const std::string& name, core::TimeMs now) {
  return run("revoking an API key", [&](Connection& db) {
    return db.query("UPDATE api_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                    Params().add(name).add(now), "revoking an API key")
               .affected() > 0;
  });
}

std::optional<core::ApiKeyRecord> PostgresStore::find_api_key(const std::string& token_hash) {
  return run("looking up an API key", [&](Connection& db) -> std::optional<core::ApiKeyRecord> {
    const Result rows =
        db.query(common::select_sql("SELECT ", common::kApiKeyColumns,
                                    " FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL"),
                 Params().add(token_hash), "looking up an API key");
    if (rows.rows() == 0) return std::nullopt;
    return common::read_api_key(rows.row(0));
  });
}

Store::DeleteOutcome PostgresStore::delete_request(const std::string& id) {
  return run("deleting a request", [&](Connection& db) {
    Transaction transaction(db);
    // The row locked: a second DELETE waits for this one to end, then finds it marked.
    const Result found =
        db.query("SELECT status FROM requests WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
                 Params().add(id), "finding a request to delete");
    if (found.rows() == 0) return DeleteOutcome::not_found;
    if (!common::has_ended(found.view(0, 0))) return DeleteOutcome::not_ended;
    db.query("UPDATE requests SET deleted_at = $2 WHERE id = $1",
             Params().add(id).add(core::now_ms()), "marking a request deleted");
    db.query("DELETE FROM deliveries WHERE request_id = $1", Params().add(id),
             "deleting a request's deliveries");
    transaction.commit("committing a deletion");
    return DeleteOutcome::deleted;
  });
}

Store::CancelOutcome PostgresStore::cancel_request(const std::string& id, core::TimeMs now) {
  return run("cancelling a request", [&](Connection& db) {
    Transaction transaction(db);
    const Result found = db.query(
        "SELECT seq, status, webhook_url FROM requests WHERE id = $1 AND deleted_at IS NULL"
        " FOR UPDATE",
        Params().add(id), "finding a request to cancel");
    if (found.rows() == 0) return CancelOutcome::not_found;
    if (common::has_ended(found.text(0, 1))) return CancelOutcome::already_ended;
    const std::int64_t seq = found.int64(0, 0);
    db.query("UPDATE requests SET status = 'cancelled', updated_at = $2 WHERE seq = $1",
             Params().add(seq).add(now), "cancelling a request");
    db.query(kCancelTasks, Params().add(seq).add(now), "dropping a cancelled request's tasks");
    if (!found.is_null(0, 2)) insert_deliveries(db, {{id, found.text(0, 2)}}, now);
    transaction.commit("committing a cancel");
    return CancelOutcome::cancelled;
  });
}

std::vector<std::int64_t> PostgresStore::cancelled_tasks(
    const std::vector<std::int64_t>& task_ids) {
  if (task_ids.empty()) return {};
  return run("looking for cancelled tasks", [&](Connection& db) {
    const Result rows = db.query(
        "SELECT tasks.id FROM tasks JOIN requests ON requests.seq = tasks.request_seq"
        " WHERE tasks.id = ANY($1::bigint[]) AND requests.status = 'cancelled' ORDER BY tasks.id",
        Params().add_literal(array_literal(task_ids)), "looking for cancelled tasks");
    std::vector<std::int64_t> cancelled;
    cancelled.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) cancelled.push_back(rows.int64(i, 0));
    return cancelled;
  });
}

Store::PurgeStep PostgresStore::purge_step(std::optional<core::TimeMs> ended_before,
                                           core::TimeMs now, int chunk) {
  if (chunk <= 0) return {};
  return run("purging deleted requests", [&](Connection& db) {
    PurgeStep step;
    Transaction transaction(db);
    // One node at a time, and none waits: the lock ends with the transaction.
    if (db.query("SELECT pg_try_advisory_xact_lock($1, 0)::int", Params().add(kRetentionLockSpace),
                 "taking the retention lock")
            .integer(0, 0) == 0) {
      step.busy = true;
      return step;
    }
    if (ended_before) {
      const Result marked = db.query(
          common::select_sql("UPDATE requests SET deleted_at = $2 WHERE seq IN (SELECT seq"
                             " FROM requests WHERE deleted_at IS NULL AND status IN ",
                             common::kEndedStatuses,
                             " AND updated_at < $1 ORDER BY updated_at LIMIT $3) RETURNING id"),
          Params().add(*ended_before).add(now).add(chunk), "marking expired requests deleted");
      step.marked = marked.rows();
      if (step.marked > 0)
        db.query(
            "DELETE FROM deliveries WHERE request_id IN (SELECT id FROM requests"
            " WHERE deleted_at = $1)",
            Params().add(now), "deleting the deliveries of expired requests");
    }
    const Result oldest = db.query(
        "SELECT seq, id, sizes FROM requests WHERE deleted_at IS NOT NULL"
        " ORDER BY deleted_at, seq LIMIT 2",
        "finding a deleted request to purge");
    if (oldest.rows() > 0) {
      const std::int64_t seq = oldest.int64(0, 0);
      const std::string id = oldest.text(0, 1);
      step.more = oldest.rows() > 1;  // a second one waits
      // Tasks first, the images no other task names queued in this same transaction;
      // then products; the request row last, once nothing refers to it. Tasks in the
      // order of their unique index, (request_seq, product_idx, image_idx): a chunk never
      // sorts the whole request.
      const Result removed = db.query(
          "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE request_seq = $1"
          " ORDER BY product_idx, image_idx LIMIT $2) RETURNING blob_key",
          Params().add(seq).add(chunk), "purging a deleted request's tasks");
      const int tasks_removed = removed.rows();
      std::vector<std::string> keys;
      for (int row = 0; row < removed.rows(); ++row)
        if (!removed.is_null(row, 0)) keys.push_back(removed.text(row, 0));
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      const auto sizes = common::size_names(oldest.text(0, 2), kBackend);
      for (const std::string& key : keys) {
        // The source's row is locked first, and the references counted after, in a
        // statement of their own: a finish_tasks reusing this image either committed
        // before (its task is counted) or checks the row after this transaction (and
        // finds it gone). docs/architecture.md, "Shared sources and outputs".
        db.query("SELECT 1 FROM sources WHERE blob_key = $1 FOR UPDATE", Params().add(key),
                 "locking a shared image's source");
        if (db.query("SELECT EXISTS (SELECT 1 FROM tasks WHERE blob_key = $1)::int",
                     Params().add(key), "counting the references to an image")
                .integer(0, 0) != 0)
          continue;
        db.query("DELETE FROM sources WHERE blob_key = $1", Params().add(key),
                 "forgetting a removed image");
        std::vector<std::optional<std::string>> doomed;
        for (auto& name : common::stored_keys(key, sizes)) doomed.emplace_back(std::move(name));
        db.query(
            "INSERT INTO blob_deletions (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            Params().add_literal(array_literal(doomed)), "queueing an image for removal");
      }
      int products_removed = 0;
      if (tasks_removed < chunk)
        products_removed =
            db.query(
                  "DELETE FROM products WHERE request_seq = $1 AND idx IN (SELECT idx FROM"
                  " products WHERE request_seq = $1 ORDER BY idx LIMIT $2)",
                  Params().add(seq).add(chunk - tasks_removed),
                  "purging a deleted request's products")
                .affected();
      step.removed = tasks_removed + products_removed;
      if (tasks_removed < chunk && products_removed < chunk - tasks_removed) {
        db.query("DELETE FROM requests WHERE seq = $1", Params().add(seq),
                 "purging a deleted request");
        step.removed += 1;
      } else {
        step.more = true;
      }
    }
    if (ended_before && step.marked == chunk) step.more = true;
    transaction.commit("committing a purge step");
    return step;
  });
}

std::vector<std::string> PostgresStore::pending_blob_deletions(int limit) {
  return run("listing images to remove", [&](Connection& db) {
    const Result rows = db.query("SELECT key FROM blob_deletions ORDER BY seq LIMIT $1",
                                 Params().add(limit), "listing images to remove");
    std::vector<std::string> keys;
    keys.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) keys.push_back(rows.text(i, 0));
    return keys;
  });
}

void PostgresStore::forget_blob_deletions(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  std::vector<std::optional<std::string>> values(keys.begin(), keys.end());
  run("forgetting removed images", [&](Connection& db) {
    db.query("DELETE FROM blob_deletions WHERE key = ANY($1::text[])",
             Params().add_literal(array_literal(values)), "forgetting removed images");
    return 0;
  });
}

bool PostgresStore::any_api_key() {
  return run("looking for API keys", [&](Connection& db) {
    return db.query("SELECT EXISTS (SELECT 1 FROM api_keys)::int", "looking for API keys")
               .integer(0, 0) != 0;
  });
}

std::vector<core::ClaimedTask> PostgresStore::claim_tasks(const std::string& owner, int max,
                                                          core::TimeMs now, core::TimeMs lease_ms) {
  if (max <= 0) return {};
  return run("claiming tasks", [&](Connection& db) {
    Transaction transaction(db);
    // Claims of one database take turns (kClaimLock says why). A statement of its own,
    // so that the next ones take their snapshot after the wait: they see every task that
    // the claims before this one leased.
    db.exec(kClaimLock, "waiting for the claim lock");
    std::vector<common::TurnCandidate> candidates;
    {
      const Result unfinished = db.query(kTurnCandidates, Params().add(owner).add(now).add(max),
                                         "listing unfinished requests");
      for (int row = 0; row < unfinished.rows(); ++row)
        candidates.push_back({unfinished.int64(row, 0), unfinished.text(row, 1),
                              unfinished.int64(row, 2), unfinished.integer(row, 3)});
    }
    const auto turns = common::plan_turns(candidates, max);
    if (turns.empty()) return std::vector<core::ClaimedTask>{};
    std::vector<std::int64_t> seqs, counts, last_turns;
    for (const auto& turn : turns) {
      seqs.push_back(turn.seq);
      counts.push_back(turn.tasks);
      last_turns.push_back(turn.last_turn);
    }
    const Result rows = db.query(kClaimTasks,
                                 Params()
                                     .add(owner)
                                     .add(now + lease_ms)
                                     .add(now)
                                     .add_literal(array_literal(seqs))
                                     .add_literal(array_literal(counts))
                                     .add_literal(array_literal(last_turns)),
                                 "claiming tasks");
    std::vector<core::ClaimedTask> claimed;
    for (int row = 0; row < rows.rows(); ++row) {
      core::ClaimedTask& task = claimed.emplace_back();
      task.task_id = rows.int64(row, 0);
      task.request_id = rows.text(row, 1);
      task.product_index = rows.integer(row, 2);
      task.image_index = rows.integer(row, 3);
      task.source_url = rows.text(row, 4);
      task.attempt = rows.integer(row, 5);
      task.quality = rows.integer(row, 6);
      const std::string format = rows.text(row, 7);
      task.format =
          parse_stored(core::parse_image_format(format), format, kBackend, "image format");
      if (!rows.is_null(row, 8)) task.source_key = rows.text(row, 8);
      task.request_created_at = rows.int64(row, 9);
      task.choices = common::read_output_choices(rows.row(row), 10, kBackend);
    }
    // What is known of each shared source, read in the claim's transaction.
    std::vector<std::optional<std::string>> source_keys;
    for (const auto& task : claimed)
      if (task.source_key) source_keys.push_back(task.source_key);
    if (!source_keys.empty()) {
      const Result known = db.query(
          common::select_sql("SELECT source_key, ", common::kSourceColumns,
                             " FROM sources WHERE source_key = ANY($1::text[])"),
          Params().add_literal(array_literal(source_keys)), "reading what is known of sources");
      std::unordered_map<std::string, core::KnownSource> by_key;
      for (int row = 0; row < known.rows(); ++row)
        by_key.emplace(known.text(row, 0), common::read_known_source(known.row(row), 1));
      for (auto& task : claimed)
        if (task.source_key)
          if (const auto found = by_key.find(*task.source_key); found != by_key.end())
            task.known = found->second;
    }
    transaction.commit("committing a claim");
    return claimed;
  });
}

int PostgresStore::renew_leases(const std::string& owner, const std::vector<std::int64_t>& task_ids,
                                core::TimeMs until) {
  if (task_ids.empty()) return 0;
  return run("renewing leases", [&](Connection& db) {
    Transaction transaction(db);
    const int renewed =
        db.query(
              "UPDATE tasks SET lease_expires = $3"
              " WHERE id = ANY($1::bigint[]) AND state = 'running' AND lease_owner = $2",
              Params().add_literal(array_literal(task_ids)).add(owner).add(until),
              "renewing leases")
            .affected();
    transaction.commit("committing lease renewals");
    return renewed;
  });
}

int PostgresStore::release_expired_leases(core::TimeMs now) {
  return run("releasing expired leases", [&](Connection& db) {
    Transaction transaction(db);
    // Attempts stay counted: a task that kills its worker every time must still run out.
    const int released =
        db.query(
              "UPDATE tasks SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
              " updated_at = $1 WHERE state = 'running' AND lease_expires < $1",
              Params().add(now), "releasing expired leases")
            .affected();
    if (released > 0) db.exec(kNotifyWork, "announcing released tasks");
    transaction.commit("committing released leases");
    return released;
  });
}

int PostgresStore::release_leases(const std::string& owner) {
  const core::TimeMs now = core::now_ms();
  return run("releasing the leases of an owner", [&](Connection& db) {
    Transaction transaction(db);
    const int released =
        db.query(
              "UPDATE tasks SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
              " updated_at = $2 WHERE state = 'running' AND lease_owner = $1",
              Params().add(owner).add(now), "releasing the leases of an owner")
            .affected();
    if (released > 0) db.exec(kNotifyWork, "announcing released tasks");
    transaction.commit("committing released leases");
    return released;
  });
}

std::vector<std::string> PostgresStore::lease_owners() {
  return run("listing the lease owners", [&](Connection& db) {
    const Result rows = db.query(
        "SELECT DISTINCT lease_owner FROM tasks"
        " WHERE state = 'running' AND lease_owner IS NOT NULL",
        "listing the lease owners");
    std::vector<std::string> owners;
    owners.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) owners.push_back(rows.text(i, 0));
    return owners;
  });
}

std::unique_ptr<ProcessPresence> PostgresStore::announce_process(const std::string& owner) {
  return std::make_unique<PostgresPresence>(uri_, settings_, owner);
}

int PostgresStore::release_departed_owners(const std::string& self, core::TimeMs now) {
  return run("releasing the leases of departed processes", [&](Connection& db) {
    Transaction transaction(db);
    // The transaction-level try-lock succeeds only where no session holds the owner's
    // lock, and is held until COMMIT, so two processes checking at once never both act on
    // one owner. A row is deleted only under the key that was found free: an owner that
    // has just announced itself again under a new key (after its connection broke) keeps
    // its row and its leases, even if its old key was seen free a moment before. The
    // leases released are those of the rows deleted.
    const int released =
        db.query(
              "WITH departed AS ("
              "  SELECT owner, lock_key FROM live_processes"
              "  WHERE owner <> $3 AND pg_try_advisory_xact_lock($2::integer, lock_key)),"
              " forgotten AS ("
              "  DELETE FROM live_processes l USING departed d"
              "  WHERE l.owner = d.owner AND l.lock_key = d.lock_key RETURNING l.owner)"
              " UPDATE tasks SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
              " updated_at = $1"
              " WHERE state = 'running' AND lease_owner IN (SELECT owner FROM forgotten)",
              Params().add(now).add(kPresenceLockSpace).add(self),
              "releasing the leases of departed processes")
            .affected();
    if (released > 0) db.exec(kNotifyWork, "announcing released tasks");
    transaction.commit("committing released leases");
    return released;
  });
}

namespace {

// finish_tasks' batched statements, filled from the outcomes they apply to.
struct EndBatch {
  std::vector<std::int64_t> ids, bytes_in, bytes_out, kept;
  std::vector<std::optional<std::string>> states, outputs, errors, qualities, scores, blob_keys,
      reused;
  // Every image a succeeded outcome stored itself, by task: kQueueCancelledImages' input.
  std::vector<std::int64_t> stored_ids;
  std::vector<std::optional<std::string>> stored_names;

  void add(const core::TaskOutcome& outcome) {
    ids.push_back(outcome.task_id);
    states.emplace_back(*common::end_state(outcome));
    outputs.push_back(outcome.output_name);
    errors.push_back(outcome.error);
    bytes_in.push_back(outcome.bytes_in);
    bytes_out.push_back(outcome.bytes_out);
    const auto& report = outcome.report;
    qualities.push_back(report.quality ? std::optional(std::to_string(*report.quality))
                                       : std::nullopt);
    scores.push_back(report.score ? std::optional(real_text(*report.score)) : std::nullopt);
    kept.push_back(report.kept ? 1 : 0);
    const bool done = outcome.kind == core::TaskOutcome::Kind::succeeded;
    blob_keys.push_back(done ? outcome.blob_key : std::nullopt);
    reused.push_back(done ? common::stored_reuse(outcome.reused) : std::nullopt);
    if (done && outcome.reused != core::Reuse::none) return;  // its image is not its own
    for (auto& name : common::stored_names(outcome)) {
      stored_ids.push_back(outcome.task_id);
      stored_names.emplace_back(std::move(name));
    }
  }
};

// A source's row after an outcome (sqlite_store.cpp's kRememberSource and kConfirmSource).
// Remembered only while the task is done and names the image, so the row never names an
// image that is not referenced.
constexpr std::string_view kRememberSource = R"sql(
INSERT INTO sources (source_key, sha256, etag, last_modified, blob_key, bytes_in, bytes_out,
                     quality_used, score, kept, checked_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
WHERE EXISTS (SELECT 1 FROM tasks WHERE id = $12 AND state = 'done' AND blob_key = $5)
ON CONFLICT (source_key) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag,
  last_modified = excluded.last_modified, blob_key = excluded.blob_key,
  bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out,
  quality_used = excluded.quality_used, score = excluded.score, kept = excluded.kept,
  checked_at = excluded.checked_at
)sql";
// Whether a task waits to be claimed whose source is that of one of these tasks
// ($1: ids), by tasks_pending_by_source.
constexpr std::string_view kSourcesAwaited = R"sql(
SELECT EXISTS (
  SELECT 1 FROM tasks waiting
  WHERE waiting.state = 'pending' AND waiting.source_key IN (
    SELECT source_key FROM tasks WHERE id = ANY($1::bigint[]) AND source_key IS NOT NULL)
)::int
)sql";
constexpr std::string_view kConfirmSource = R"sql(
UPDATE sources SET etag = coalesce($3, etag), last_modified = coalesce($4, last_modified),
                   checked_at = greatest(checked_at, $5)
WHERE source_key = $1 AND blob_key = $2
)sql";

}  // namespace

std::vector<std::string> PostgresStore::finish_tasks(const std::vector<core::TaskOutcome>& outcomes,
                                                     core::TimeMs now) {
  if (outcomes.empty()) return {};
  // Split into the batched statements. Applied one by one (as SQLite does), a retry
  // that comes after an outcome ending the same task finds it ended and does nothing, so
  // it is dropped here; a retry before it is applied first, as the statements run in
  // that order. Reused outcomes go last, once the outcomes that made images have named
  // them in `sources` (a duplicate in the same batch reuses what its leader made).
  std::vector<std::int64_t> retry_ids, retry_at;
  std::vector<std::optional<std::string>> retry_errors, retry_owners;
  std::vector<const core::TaskOutcome*> made, reused;
  std::unordered_set<std::int64_t> ended_before;
  for (const core::TaskOutcome& outcome : outcomes) {
    if (!common::end_state(outcome)) {
      if (ended_before.contains(outcome.task_id)) continue;
      retry_ids.push_back(outcome.task_id);
      retry_at.push_back(outcome.retry_at);
      retry_errors.push_back(outcome.error);
      retry_owners.emplace_back(outcome.owner);
      continue;
    }
    ended_before.insert(outcome.task_id);
    const bool reuse =
        outcome.kind == core::TaskOutcome::Kind::succeeded && outcome.reused != core::Reuse::none;
    (reuse ? reused : made).push_back(&outcome);
  }

  return run("recording task outcomes", [&](Connection& db) {
    Transaction transaction(db);
    bool notify = false;
    if (!retry_ids.empty()) {
      const int retried = db.query(kScheduleRetries,
                                   Params()
                                       .add_literal(array_literal(retry_ids))
                                       .add_literal(array_literal(retry_at))
                                       .add_literal(array_literal(retry_errors))
                                       .add_literal(array_literal(retry_owners))
                                       .add(now),
                                   "scheduling task retries")
                              .affected();
      notify = retried > 0;
    }
    std::vector<std::string> completed;
    const auto end = [&](const std::vector<const core::TaskOutcome*>& group) {
      if (group.empty()) return;
      EndBatch batch;
      for (const auto* outcome : group) batch.add(*outcome);
      const Result rows = db.query(kEndTasks,
                                   Params()
                                       .add_literal(array_literal(batch.ids))
                                       .add_literal(array_literal(batch.states))
                                       .add_literal(array_literal(batch.outputs))
                                       .add_literal(array_literal(batch.errors))
                                       .add_literal(array_literal(batch.bytes_in))
                                       .add_literal(array_literal(batch.bytes_out))
                                       .add(now)
                                       .add_literal(array_literal(batch.qualities))
                                       .add_literal(array_literal(batch.scores))
                                       .add_literal(array_literal(batch.kept))
                                       .add_literal(array_literal(batch.blob_keys))
                                       .add_literal(array_literal(batch.reused)),
                                   "recording ended tasks");
      std::vector<PendingDelivery> deliveries;
      for (int row = 0; row < rows.rows(); ++row) {
        completed.push_back(rows.text(row, 0));
        if (!rows.is_null(row, 1)) deliveries.push_back({rows.text(row, 0), rows.text(row, 1)});
      }
      insert_deliveries(db, deliveries, now);
      if (!batch.stored_ids.empty())
        db.query(kQueueCancelledImages,
                 Params()
                     .add_literal(array_literal(batch.stored_ids))
                     .add_literal(array_literal(batch.stored_names)),
                 "queueing the images of cancelled requests");
    };
    const auto source_row = [&](const core::TaskOutcome& outcome, std::string_view sql) {
      db.query(sql,
               Params()
                   .add(*outcome.source_key)
                   .add(outcome.sha256)
                   .add(outcome.etag)
                   .add(outcome.last_modified)
                   .add(outcome.blob_key)
                   .add(outcome.bytes_in)
                   .add(outcome.bytes_out)
                   .add(outcome.report.quality)
                   .add(outcome.report.score)
                   .add(outcome.report.kept ? 1 : 0)
                   .add(now)
                   .add(outcome.task_id),
               "remembering a source");
    };

    end(made);
    for (const auto* outcome : made)
      if (outcome->kind == core::TaskOutcome::Kind::succeeded && outcome->source_key &&
          !outcome->sha256.empty() && outcome->blob_key)
        source_row(*outcome, kRememberSource);

    if (!reused.empty()) {
      // A reuse counts only while the source still names the image. The rows are locked
      // (in key order), so a purge that would remove the image's last reference either
      // committed before (the row is gone: the task is made again) or waits for this
      // transaction and then counts this task among the references.
      std::vector<std::optional<std::string>> keys;
      for (const auto* outcome : reused) keys.push_back(outcome->source_key.value_or(""));
      const Result rows = db.query(
          "SELECT source_key, blob_key FROM sources WHERE source_key = ANY($1::text[])"
          " ORDER BY source_key FOR UPDATE",
          Params().add_literal(array_literal(keys)), "checking that shared images are there");
      std::unordered_map<std::string, std::string> named;
      for (int row = 0; row < rows.rows(); ++row)
        named.emplace(rows.text(row, 0), rows.text(row, 1));
      std::vector<const core::TaskOutcome*> valid;
      std::vector<std::int64_t> again;
      for (const auto* outcome : reused) {
        const auto found = named.find(outcome->source_key.value_or(""));
        if (found != named.end() && outcome->blob_key && found->second == *outcome->blob_key)
          valid.push_back(outcome);
        else
          again.push_back(outcome->task_id);
      }
      if (!again.empty())
        notify =
            db.query(
                  "UPDATE tasks SET state = 'pending', not_before = $2, lease_owner = NULL,"
                  " lease_expires = NULL, updated_at = $2"
                  " WHERE id = ANY($1::bigint[]) AND state IN ('pending', 'running')",
                  Params().add_literal(array_literal(again)).add(now), "making tasks' images again")
                    .affected() > 0 ||
            notify;
      end(valid);
      for (const auto* outcome : valid)
        if (outcome->reused != core::Reuse::duplicate)
          db.query(kConfirmSource,
                   Params()
                       .add(*outcome->source_key)
                       .add(*outcome->blob_key)
                       .add(outcome->etag)
                       .add(outcome->last_modified)
                       .add(now),
                   "confirming a source");
    }
    // Claims of other owners may have passed over tasks of the sources that just ended
    // (source_free), which are claimable now: their idle workers are woken.
    std::vector<std::int64_t> ended_ids;
    for (const auto* group : {&made, &reused})
      for (const auto* outcome : *group) ended_ids.push_back(outcome->task_id);
    if (!notify && !ended_ids.empty())
      notify = db.query(kSourcesAwaited, Params().add_literal(array_literal(ended_ids)),
                        "looking for tasks waiting for a source")
                   .integer(0, 0) != 0;
    if (notify) db.exec(kNotifyWork, "announcing claimable tasks");
    transaction.commit("committing task outcomes");
    return completed;
  });
}

std::vector<core::Delivery> PostgresStore::claim_deliveries(core::TimeMs now, int max,
                                                            core::TimeMs lease_ms) {
  if (max <= 0) return {};
  return run("claiming webhook deliveries", [&](Connection& db) {
    Transaction transaction(db);
    const Result rows =
        db.query(common::select_sql(
                     "WITH picked AS MATERIALIZED ("
                     " SELECT id AS picked_id FROM deliveries"
                     " WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL"
                     " AND next_attempt_at <= $1 AND (lease_expires IS NULL OR lease_expires < $1)"
                     " ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
                     " UPDATE deliveries SET lease_expires = $2 FROM picked"
                     " WHERE deliveries.id = picked.picked_id RETURNING ",
                     common::kDeliveryColumns, ""),
                 Params().add(now).add(now + lease_ms).add(max), "claiming webhook deliveries");
    std::vector<core::Delivery> claimed;
    claimed.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row)
      claimed.push_back(common::read_delivery(rows.row(row)));
    transaction.commit("committing claimed deliveries");
    common::sort_by_due(claimed);
    return claimed;
  });
}

void PostgresStore::record_delivery_attempt(const core::DeliveryAttempt& attempt,
                                            core::TimeMs now) {
  run("recording a webhook attempt", [&](Connection& db) {
    Transaction transaction(db);
    // `delivered_at IS NULL`: once delivered, a late report from a dispatcher whose lease
    // had expired must not schedule the notification again.
    if (attempt.delivered) {
      db.query(
          "UPDATE deliveries SET attempts = attempts + 1, last_status = $2,"
          " last_error = $3, delivered_at = $4, next_attempt_at = NULL,"
          " lease_expires = NULL WHERE id = $1 AND delivered_at IS NULL",
          Params().add(attempt.delivery_id).add(attempt.http_status).add(attempt.error).add(now),
          "recording a delivered webhook");
    } else {
      // A null next_attempt_at is the give-up mark: the claim query never selects it.
      db.query(
          "UPDATE deliveries SET attempts = attempts + 1, last_status = $2,"
          " last_error = $3, next_attempt_at = $4, lease_expires = NULL"
          " WHERE id = $1 AND delivered_at IS NULL",
          Params()
              .add(attempt.delivery_id)
              .add(attempt.http_status)
              .add(attempt.error)
              .add(attempt.next_attempt_at),
          "recording a failed webhook attempt");
    }
    transaction.commit("committing a webhook attempt");
    return 0;
  });
}

Store::QueueDepth PostgresStore::queue_depth() {
  return run("counting queued tasks", [&](Connection& db) {
    const Result rows = db.query(
        "SELECT (SELECT count(*) FROM tasks WHERE state = 'pending'),"
        " (SELECT count(*) FROM tasks WHERE state = 'running')",
        "counting queued tasks");
    return QueueDepth{rows.int64(0, 0), rows.int64(0, 1)};
  });
}

bool PostgresStore::ping() {
  try {
    return run("pinging the database", [&](Connection& db) {
      return db.query("SELECT count(*) FROM schema_migrations", "pinging the database").rows() == 1;
    });
  } catch (const StoreError&) {
    return false;
  }
}

std::unique_ptr<WorkWatch> PostgresStore::watch_new_work(std::function<void()> on_new_work) {
  return std::make_unique<ListenWatch>(uri_, settings_, std::move(on_new_work));
}

}  // namespace imgbatch::store::postgres
