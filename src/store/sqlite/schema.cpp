#include "sqlite/schema.hpp"

#include <string>

#include "core/types.hpp"
#include "store/store.hpp"

namespace imgbatch::store::sqlite {

namespace {

// Version 1. Times are Unix epoch milliseconds. Status and state names are those of
// core/types.hpp; the CHECKs catch a bug that writes anything else. They are OR chains,
// not IN lists: SQLite evaluates a CHECK's IN list by building a temporary b-tree for
// every row inserted, which cost a third of the time of storing a large request.
// In three parts: the head of `requests`, its columns shared by both backends
// (common::kRequestColumnsV1), then the rest.
constexpr std::string_view kSchemaV1Head = R"sql(
CREATE TABLE requests (
  -- Products and tasks refer to a request by this integer rather than by its uuid:
  -- smaller rows and index keys, faster comparisons, for the tables that grow.
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  status          TEXT NOT NULL
                  CHECK (status = 'pending' OR status = 'processing'
                         OR status = 'completed' OR status = 'failed'),
)sql";
constexpr std::string_view kSchemaV1Tail = R"sql(
-- GET /requests, newest first (seq breaks ties in creation order).
CREATE INDEX requests_by_created_at ON requests (created_at);
CREATE INDEX requests_by_idempotency_key ON requests (idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;

CREATE TABLE products (
  request_seq   INTEGER NOT NULL REFERENCES requests (seq),
  idx           INTEGER NOT NULL,
  serial_number TEXT NOT NULL,
  product_name  TEXT NOT NULL,
  fields        TEXT NOT NULL,            -- JSON array: the whole CSV row
  PRIMARY KEY (request_seq, idx)
) WITHOUT ROWID;

-- One row per image. `id` grows in insertion order (request, then product, then image),
-- which is the order work is handed out in.
CREATE TABLE tasks (
  id            INTEGER PRIMARY KEY,
  -- Refers to the request, not to the product: checking (request_seq, product_idx)
  -- against products cost a fifth of the time of storing a large request, and tasks are
  -- only ever written together with their products, by create_request.
  request_seq   INTEGER NOT NULL REFERENCES requests (seq),
  product_idx   INTEGER NOT NULL,
  image_idx     INTEGER NOT NULL,
  source_url    TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'pending'
                CHECK (state = 'pending' OR state = 'running' OR state = 'done'
                       OR state = 'failed'),
  attempts      INTEGER NOT NULL DEFAULT 0,
  not_before    INTEGER NOT NULL DEFAULT 0,
  lease_owner   TEXT,
  lease_expires INTEGER,
  output_name   TEXT,
  error         TEXT,
  bytes_in      INTEGER NOT NULL DEFAULT 0,
  bytes_out     INTEGER NOT NULL DEFAULT 0,
  updated_at    INTEGER NOT NULL,
  UNIQUE (request_seq, product_idx, image_idx)  -- also serves product pages
);
-- Claiming walks pending tasks in id order and skips those waiting for a retry time;
-- the index holds only pending tasks, so finished work costs nothing.
CREATE INDEX tasks_claimable ON tasks (id, not_before) WHERE state = 'pending';
-- Running tasks are few (workers x batch): lease expiry and release by owner.
CREATE INDEX tasks_running_by_lease ON tasks (lease_expires) WHERE state = 'running';
CREATE INDEX tasks_running_by_owner ON tasks (lease_owner) WHERE state = 'running';

CREATE TABLE deliveries (
  id              INTEGER PRIMARY KEY,
  webhook_id      TEXT NOT NULL UNIQUE,   -- "msg_" + uuid, the same on every attempt
  request_id      TEXT NOT NULL REFERENCES requests (id),  -- few rows: the uuid is fine
  url             TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,                -- NULL once delivered or given up
  lease_expires   INTEGER,
  created_at      INTEGER NOT NULL,
  delivered_at    INTEGER,
  last_status     INTEGER,
  last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
  WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL;
CREATE INDEX deliveries_by_request ON deliveries (request_id);
)sql";

// Version 2: API keys, and the key that owns each request (docs/API.md,
// "Authentication"). Only a hash of a token is kept; a key is looked up by it on every
// request, so a revocation counts at once. Names are unique among keys not revoked, so a
// name can be used again after its key is revoked.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE api_keys (
  id                 TEXT PRIMARY KEY,      -- "key_" + uuid; requests.owner_key
  name               TEXT NOT NULL,
  token_hash         TEXT NOT NULL UNIQUE,  -- hex SHA-256 of the token
  admin              INTEGER NOT NULL DEFAULT 0 CHECK (admin = 0 OR admin = 1),
  images_per_day     INTEGER,               -- NULL: no limit
  uploads_per_minute INTEGER,
  created_at         INTEGER NOT NULL,
  revoked_at         INTEGER
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
ALTER TABLE requests ADD COLUMN owner_key TEXT;  -- NULL: stored while keys were not in force
-- GET /requests for one key, newest first.
CREATE INDEX requests_by_owner ON requests (owner_key, created_at) WHERE owner_key IS NOT NULL;
)sql";

// Version 3: what each key has used of its limits (common/quota.hpp), read and written in
// the transaction that stores an upload. One row per key that has a limit.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE api_key_usage (
  key_id       TEXT PRIMARY KEY,   -- api_keys.id
  day_start    INTEGER NOT NULL,   -- the UTC day images_today counts
  images_today INTEGER NOT NULL,
  token_micros INTEGER NOT NULL,   -- the per-minute bucket, in millionths of an upload
  refilled_at  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 4: the images of deleted requests, waiting to be removed from the storage
// (Store::delete_request queues them in the transaction that deletes the rows).
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE blob_deletions (
  seq INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE   -- "REQUEST_ID/NAME", as the BlobStore names it
);
)sql";

// Version 5: the status `cancelled` (Store::cancel_request). SQLite cannot change a CHECK
// in place, so `requests` is rebuilt the way its documentation says (ALTER TABLE, "Making
// other kinds of table schema changes"): a new table with every column in the same order,
// the rows copied, the old table dropped, the new one renamed and its indexes made again.
// migrate() turns foreign keys off around the transaction, so that dropping the old table
// leaves the rows of products, tasks and deliveries, whose REFERENCES name `requests`,
// as they are, then has foreign_key_check confirm that every reference still holds. The
// table holds one row per request, so the copy is quick.
constexpr std::string_view kSchemaV5Head = R"sql(
CREATE TABLE requests_v5 (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  status          TEXT NOT NULL
                  CHECK (status = 'pending' OR status = 'processing'
                         OR status = 'completed' OR status = 'failed'
                         OR status = 'cancelled'),
)sql";
constexpr std::string_view kSchemaV5Tail = R"sql(
ALTER TABLE requests_v5 ADD COLUMN owner_key TEXT;
INSERT INTO requests_v5 SELECT * FROM requests;
DROP TABLE requests;
ALTER TABLE requests_v5 RENAME TO requests;
CREATE INDEX requests_by_created_at ON requests (created_at);
CREATE INDEX requests_by_idempotency_key ON requests (idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX requests_by_owner ON requests (owner_key, created_at) WHERE owner_key IS NOT NULL;
)sql";

const std::string& schema_v5() {
  static const std::string sql = std::string(kSchemaV5Head) +
                                 std::string(common::kRequestColumnsV1) +
                                 std::string(kSchemaV5Tail);
  return sql;
}

// Version 6: fair turns (common/turns.hpp). Claims pick requests first (the unfinished
// ones, by a partial index) and then the ready tasks of each request, so the index of
// claimable tasks leads with the request.
constexpr std::string_view kSchemaV6 = R"sql(
ALTER TABLE requests ADD COLUMN last_turn INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requests_unfinished ON requests (seq)
  WHERE status = 'pending' OR status = 'processing';
DROP INDEX tasks_claimable;
CREATE INDEX tasks_claimable ON tasks (request_seq, id, not_before) WHERE state = 'pending';
)sql";

// Version 7: retention (src/retention). Deleting a request first marks it (deleted_at):
// from then on no read sees it, and the purge removes its rows in small transactions.
// The partial index keeps the purge's search for marked requests off the whole table.
constexpr std::string_view kSchemaV7 = R"sql(
ALTER TABLE requests ADD COLUMN deleted_at INTEGER;
CREATE INDEX requests_deleted ON requests (deleted_at, seq) WHERE deleted_at IS NOT NULL;
-- Retention looks for requests that ended before a time every few seconds: without this
-- index, a scan of every request under the write lock. Ended requests are not updated
-- again, so it costs one entry per request. The list is common/ended.hpp's kEndedStatuses.
CREATE INDEX requests_ended ON requests (updated_at)
  WHERE deleted_at IS NULL AND status IN ('completed', 'failed', 'cancelled');
)sql";

// Version 8: output choices and per-image reports (issue 14, core/output_choices.hpp).
constexpr std::string_view kSchemaV8 = R"sql(
-- What each request asked of its outputs besides quality and format. Requests stored
-- before this version were accepted when images were always re-encoded: never_larger is
-- off for them; new requests always say.
ALTER TABLE requests ADD COLUMN quality_target REAL;
ALTER TABLE requests ADD COLUMN max_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN never_larger INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN sizes TEXT NOT NULL DEFAULT '';
-- What became of each image (core::ImageReport).
ALTER TABLE tasks ADD COLUMN quality_used INTEGER;
ALTER TABLE tasks ADD COLUMN score REAL;
ALTER TABLE tasks ADD COLUMN kept INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 9: shared sources and outputs (issue 15; docs/architecture.md).
constexpr std::string_view kSchemaV9 = R"sql(
-- The task's source key (none: never shared), the key of the image it uses once done
-- (its own or a shared one) and how it was reused ('304', 'same-bytes', 'duplicate').
ALTER TABLE tasks ADD COLUMN source_key TEXT;
ALTER TABLE tasks ADD COLUMN blob_key TEXT;
ALTER TABLE tasks ADD COLUMN reused TEXT;
-- Images stored before this version are each their own task's.
UPDATE tasks SET blob_key = (SELECT id FROM requests WHERE requests.seq = tasks.request_seq)
  || '/' || output_name WHERE output_name IS NOT NULL;
-- The references to an image, counted when a task that names it is purged.
CREATE INDEX tasks_by_blob_key ON tasks (blob_key) WHERE blob_key IS NOT NULL;
ALTER TABLE requests ADD COLUMN reused INTEGER NOT NULL DEFAULT 0;
-- What is known of each source: written with the task whose output it names.
CREATE TABLE sources (
  source_key    TEXT PRIMARY KEY,
  sha256        TEXT NOT NULL,
  etag          TEXT,
  last_modified TEXT,
  blob_key      TEXT NOT NULL,
  bytes_in      INTEGER NOT NULL,
  bytes_out     INTEGER NOT NULL,
  quality_used  INTEGER,
  score         REAL,
  kept          INTEGER NOT NULL,
  checked_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sources_by_blob_key ON sources (blob_key);
)sql";

// Version 10: sources shared across processes, and each request's quality floor.
constexpr std::string_view kSchemaV10 = R"sql(
-- The running tasks of each source: a claim passes over a pending task whose source another
-- owner is downloading under a live lease (docs/architecture.md, "Shared sources and
-- outputs"). Few rows: only the tasks in flight.
CREATE INDEX tasks_running_by_source ON tasks (source_key)
  WHERE state = 'running' AND source_key IS NOT NULL;
-- The pending tasks of each source: when a task of a source ends, whether others wait for
-- it (and the workers are to be woken).
CREATE INDEX tasks_pending_by_source ON tasks (source_key)
  WHERE state = 'pending' AND source_key IS NOT NULL;
-- The lowest quality max_bytes and quality=auto may go to (--min-quality of the node that
-- took the upload). Requests stored before this version get the default.
ALTER TABLE requests ADD COLUMN min_quality INTEGER NOT NULL DEFAULT 10;
)sql";

bool table_exists(Connection& connection, std::string_view name) {
  Query query(connection, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
              "looking for a table");
  query.bind(1, name);
  query.step();
  return query.integer(0) > 0;
}

int read_integer(Connection& connection, std::string_view sql, const std::string& doing) {
  Query query(connection, sql, doing);
  query.step();
  return query.integer(0);
}

}  // namespace

std::span<const Migration> migrations() {
  static const common::Schema schema(kSchemaV1Head, kSchemaV1Tail,
                                     {{2, kSchemaV2},
                                      {3, kSchemaV3},
                                      {4, kSchemaV4},
                                      {5, schema_v5()},
                                      {6, kSchemaV6},
                                      {7, kSchemaV7},
                                      {8, kSchemaV8},
                                      {9, kSchemaV9},
                                      {10, kSchemaV10}});
  return schema.migrations();
}

void migrate(Connection& connection, std::span<const Migration> steps) {
  // The common case, an up-to-date file, needs no write lock.
  if (table_exists(connection, common::kVersionTable) &&
      read_integer(connection, common::kReadVersion, "reading the schema version") ==
          common::known_version(steps))
    return;
  // Off while migrating (a no-op inside a transaction, so set before it): version 5
  // rebuilds `requests`, which other tables reference. Back on below; should a step throw,
  // the connection goes with the store that failed to open.
  connection.exec("PRAGMA foreign_keys = OFF", "turning foreign keys off to migrate");
  Transaction transaction(connection, Transaction::Kind::write);
  // Files written before the version table had the name PostgreSQL's has: carried over
  // under the write lock, so that two processes opening such a file rename it once.
  if (!table_exists(connection, common::kVersionTable) &&
      table_exists(connection, common::kOldSqliteVersionTable))
    connection.exec("ALTER TABLE " + std::string(common::kOldSqliteVersionTable) + " RENAME TO " +
                        std::string(common::kVersionTable),
                    "renaming the schema version table");
  const common::SchemaAccess access{
      [&](std::string_view sql, const std::string& doing) { connection.exec(sql, doing); },
      [&](std::string_view sql, const std::string& doing) {
        return read_integer(connection, sql, doing);
      }};
  common::apply_migrations(access, steps, "sqlite: database '" + connection.path() + "'");
  // With foreign keys off, nothing else checked that the rebuilt tables kept them whole.
  if (read_integer(connection, "SELECT count(*) FROM pragma_foreign_key_check",
                   "checking foreign keys after migrating") != 0)
    throw StoreError("sqlite: database '" + connection.path() +
                     "': a migration left rows that reference missing ones; nothing was changed");
  transaction.commit();
  connection.exec("PRAGMA foreign_keys = ON", "turning foreign keys back on");
}

}  // namespace imgbatch::store::sqlite
