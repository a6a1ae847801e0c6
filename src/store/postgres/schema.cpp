#include "postgres/schema.hpp"

#include <libpq-fe.h>

#include <string>

#include "core/types.hpp"

namespace imgbatch::store::postgres {

namespace {

// "imgbatch" in ASCII: the key of the advisory lock that serialises migrations. Advisory
// locks are per database, so other databases on the server never wait for it.
constexpr std::string_view kMigrationLock = "SELECT pg_advisory_xact_lock(7596841818683368296)";

// MATERIALIZED CTEs (claiming) need PostgreSQL 12.
constexpr int kMinimumServerVersion = 120000;

// Version 1: the tables of the SQLite backend (sqlite/schema.cpp explains the columns),
// with PostgreSQL's types. Times are Unix epoch milliseconds as the callers pass them,
// never the server's clock. products and tasks name their request without a FOREIGN KEY:
// its check, a trigger per row, was 40 % of the time of storing a large request, and
// these rows are only ever written by create_request, in the transaction that has just
// stored their request.
// In three parts: the head of `requests`, its columns shared by both backends
// (common::kRequestColumnsV1), then the rest.
constexpr std::string_view kSchemaV1Head = R"sql(
CREATE TABLE requests (
  seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  status          TEXT NOT NULL
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
)sql";
constexpr std::string_view kSchemaV1Tail = R"sql(
CREATE INDEX requests_by_created_at ON requests (created_at, seq);
CREATE INDEX requests_by_idempotency_key ON requests (idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;

CREATE TABLE products (
  request_seq   BIGINT NOT NULL,          -- requests.seq
  idx           INTEGER NOT NULL,
  serial_number TEXT NOT NULL,
  product_name  TEXT NOT NULL,
  fields        TEXT NOT NULL,            -- JSON array: the whole CSV row
  PRIMARY KEY (request_seq, idx)
);

CREATE TABLE tasks (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_seq   BIGINT NOT NULL,          -- requests.seq
  product_idx   INTEGER NOT NULL,
  image_idx     INTEGER NOT NULL,
  source_url    TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  not_before    BIGINT NOT NULL DEFAULT 0,
  lease_owner   TEXT,
  lease_expires BIGINT,
  output_name   TEXT,
  error         TEXT,
  bytes_in      BIGINT NOT NULL DEFAULT 0,
  bytes_out     BIGINT NOT NULL DEFAULT 0,
  updated_at    BIGINT NOT NULL,
  UNIQUE (request_seq, product_idx, image_idx)  -- also serves product pages
);
-- Claiming walks pending tasks oldest request first. Requests stored at the same moment
-- by two processes may interleave their task ids, so the request comes first in the key.
CREATE INDEX tasks_claimable ON tasks (request_seq, id) WHERE state = 'pending';
CREATE INDEX tasks_running_by_lease ON tasks (lease_expires) WHERE state = 'running';
CREATE INDEX tasks_running_by_owner ON tasks (lease_owner) WHERE state = 'running';

CREATE TABLE deliveries (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id      TEXT NOT NULL UNIQUE,
  request_id      TEXT NOT NULL REFERENCES requests (id),
  url             TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,                 -- NULL once delivered or given up
  lease_expires   BIGINT,
  created_at      BIGINT NOT NULL,
  delivered_at    BIGINT,
  last_status     INTEGER,
  last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id)
  WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL;
CREATE INDEX deliveries_by_request ON deliveries (request_id);
)sql";

// Version 2: the processes that work on tasks, while they run (presence.hpp). Each holds
// the session-level advisory lock (kPresenceLockSpace, lock_key) on a connection of its
// own, lock_key being that connection's backend PID: unique among the server's live
// sessions, so two live owners never share a key, even from different schemas of one
// database. An owner whose lock can be taken is gone.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE live_processes (
  owner    TEXT PRIMARY KEY,              -- tasks.lease_owner of its leases
  lock_key INTEGER NOT NULL,
  since    BIGINT NOT NULL
);
)sql";

// Version 3: API keys and the key that owns each request (sqlite/schema.cpp, version 2,
// explains the columns).
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE api_keys (
  id                 TEXT PRIMARY KEY,
  name               TEXT NOT NULL,
  token_hash         TEXT NOT NULL UNIQUE,
  admin              INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
  images_per_day     BIGINT,
  uploads_per_minute BIGINT,
  created_at         BIGINT NOT NULL,
  revoked_at         BIGINT
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
ALTER TABLE requests ADD COLUMN owner_key TEXT;
CREATE INDEX requests_by_owner ON requests (owner_key, created_at, seq)
  WHERE owner_key IS NOT NULL;
)sql";

// Version 4: what each key has used of its limits (sqlite/schema.cpp, version 3).
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE api_key_usage (
  key_id       TEXT PRIMARY KEY,
  day_start    BIGINT NOT NULL,
  images_today BIGINT NOT NULL,
  token_micros BIGINT NOT NULL,
  refilled_at  BIGINT NOT NULL
);
)sql";

// Version 5: the images of deleted requests, waiting to be removed (sqlite/schema.cpp,
// version 4).
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE blob_deletions (
  seq BIGSERIAL PRIMARY KEY,
  key TEXT NOT NULL UNIQUE
);
)sql";

// Version 6: the status `cancelled` (Store::cancel_request). The CHECK of version 1 has
// PostgreSQL's default name for a column's constraint.
constexpr std::string_view kSchemaV6 = R"sql(
ALTER TABLE requests DROP CONSTRAINT requests_status_check,
  ADD CONSTRAINT requests_status_check
    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled'));
)sql";

// Version 7: fair turns (sqlite/schema.cpp, version 6). tasks_claimable already leads
// with the request.
constexpr std::string_view kSchemaV7 = R"sql(
ALTER TABLE requests ADD COLUMN last_turn BIGINT NOT NULL DEFAULT 0;
CREATE INDEX requests_unfinished ON requests (seq) WHERE status IN ('pending', 'processing');
)sql";

// Version 8: requests marked as deleted, purged in small transactions (sqlite/schema.cpp,
// version 7).
constexpr std::string_view kSchemaV8 = R"sql(
ALTER TABLE requests ADD COLUMN deleted_at BIGINT;
CREATE INDEX requests_deleted ON requests (deleted_at, seq) WHERE deleted_at IS NOT NULL;
-- Retention looks for requests that ended before a time every few seconds: without this
-- index, a scan of every request under the write lock. Ended requests are not updated
-- again, so it costs one entry per request. The list is common/ended.hpp's kEndedStatuses.
CREATE INDEX requests_ended ON requests (updated_at)
  WHERE deleted_at IS NULL AND status IN ('completed', 'failed', 'cancelled');
)sql";

// Version 9: output choices and per-image reports (issue 14, core/output_choices.hpp).
constexpr std::string_view kSchemaV9 = R"sql(
-- What each request asked of its outputs besides quality and format. Requests stored
-- before this version were accepted when images were always re-encoded: never_larger is
-- off for them; new requests always say.
ALTER TABLE requests ADD COLUMN quality_target DOUBLE PRECISION;
ALTER TABLE requests ADD COLUMN max_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN never_larger INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN sizes TEXT NOT NULL DEFAULT '';
-- What became of each image (core::ImageReport).
ALTER TABLE tasks ADD COLUMN quality_used INTEGER;
ALTER TABLE tasks ADD COLUMN score DOUBLE PRECISION;
ALTER TABLE tasks ADD COLUMN kept INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 10: shared sources and outputs (issue 15; docs/architecture.md). As SQLite's 9.
constexpr std::string_view kSchemaV10 = R"sql(
-- The task's source key (none: never shared), the key of the image it uses once done
-- (its own or a shared one) and how it was reused ('304', 'same-bytes', 'duplicate').
ALTER TABLE tasks ADD COLUMN source_key TEXT;
ALTER TABLE tasks ADD COLUMN blob_key TEXT;
ALTER TABLE tasks ADD COLUMN reused TEXT;
-- Images stored before this version are each their own task's.
UPDATE tasks SET blob_key = requests.id || '/' || tasks.output_name
  FROM requests WHERE requests.seq = tasks.request_seq AND tasks.output_name IS NOT NULL;
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
  bytes_in      BIGINT NOT NULL,
  bytes_out     BIGINT NOT NULL,
  quality_used  INTEGER,
  score         DOUBLE PRECISION,
  kept          INTEGER NOT NULL,
  checked_at    BIGINT NOT NULL
);
CREATE INDEX sources_by_blob_key ON sources (blob_key);
)sql";

// Version 11: sources shared across processes, and each request's quality floor
// (sqlite/schema.cpp, version 10).
constexpr std::string_view kSchemaV11 = R"sql(
CREATE INDEX tasks_running_by_source ON tasks (source_key)
  WHERE state = 'running' AND source_key IS NOT NULL;
CREATE INDEX tasks_pending_by_source ON tasks (source_key)
  WHERE state = 'pending' AND source_key IS NOT NULL;
ALTER TABLE requests ADD COLUMN min_quality INTEGER NOT NULL DEFAULT 10;
)sql";

}  // namespace

std::span<const common::Migration> migrations() {
  static const common::Schema schema(kSchemaV1Head, kSchemaV1Tail,
                                     {{2, kSchemaV2},
                                      {3, kSchemaV3},
                                      {4, kSchemaV4},
                                      {5, kSchemaV5},
                                      {6, kSchemaV6},
                                      {7, kSchemaV7},
                                      {8, kSchemaV8},
                                      {9, kSchemaV9},
                                      {10, kSchemaV10},
                                      {11, kSchemaV11}});
  return schema.migrations();
}

void migrate(Connection& connection) {
  const std::span<const common::Migration> steps = migrations();
  const int server_version = PQserverVersion(connection.handle());
  if (server_version < kMinimumServerVersion)
    throw StoreError("postgresql: the server is version " + std::to_string(server_version) +
                     "; imgbatch needs PostgreSQL 12 or newer");
  Transaction transaction(connection);
  connection.exec(kMigrationLock, "waiting for the schema migration lock");
  const common::SchemaAccess access{
      [&](std::string_view sql, const std::string& doing) { connection.exec(sql, doing); },
      [&](std::string_view sql, const std::string& doing) {
        return connection.query(sql, doing).integer(0, 0);
      }};
  // Nothing applied: the transaction rolls back, having changed nothing.
  if (!common::apply_migrations(access, steps, "postgresql: the database")) return;
  transaction.commit("committing the schema migrations");
}

}  // namespace imgbatch::store::postgres
