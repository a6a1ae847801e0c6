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
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE requests (
  -- Products and tasks refer to a request by this integer rather than by its uuid:
  -- smaller rows and index keys, faster comparisons, for the tables that grow.
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  status          TEXT NOT NULL
                  CHECK (status = 'pending' OR status = 'processing'
                         OR status = 'completed' OR status = 'failed'),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  columns         TEXT NOT NULL,          -- JSON array: the CSV header as uploaded
  webhook_url     TEXT,
  quality         INTEGER NOT NULL,
  format          TEXT NOT NULL,
  failure_reason  TEXT,
  idempotency_key TEXT,
  fingerprint     TEXT NOT NULL,
  products_total  INTEGER NOT NULL,
  -- Kept up to date by every task transition, so a status poll reads one row.
  total           INTEGER NOT NULL,
  succeeded       INTEGER NOT NULL DEFAULT 0,
  failed          INTEGER NOT NULL DEFAULT 0
);
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

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};

bool table_exists(Connection& connection, std::string_view name) {
  Query query(connection, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
              "looking for a table");
  query.bind(1, name);
  query.step();
  return query.integer(0) > 0;
}

int recorded_version(Connection& connection) {
  Query query(connection, common::kReadVersion, "reading the schema version");
  query.step();
  return query.integer(0);
}

class SqliteSchemaEditor final : public common::SchemaEditor {
 public:
  explicit SqliteSchemaEditor(Connection& connection) : connection_(connection) {}
  void exec(std::string_view sql, const std::string& doing) override {
    connection_.exec(sql, doing);
  }
  int recorded_version() override { return sqlite::recorded_version(connection_); }
  void record(int version, core::TimeMs applied_at) override {
    Query record(connection_, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                 "recording schema migration " + std::to_string(version));
    record.bind(1, version).bind(2, applied_at).run();
  }

 private:
  Connection& connection_;
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations[std::size(kMigrations) - 1].version; }

void migrate(Connection& connection, std::span<const Migration> steps) {
  // The common case, an up-to-date file, needs no write lock.
  if (table_exists(connection, common::kVersionTable) &&
      recorded_version(connection) == common::known_version(steps))
    return;
  Transaction transaction(connection, Transaction::Kind::write);
  // Files written before the version table had the name PostgreSQL's has: carried over
  // under the write lock, so that two processes opening such a file rename it once.
  if (!table_exists(connection, common::kVersionTable) &&
      table_exists(connection, common::kOldSqliteVersionTable))
    connection.exec("ALTER TABLE " + std::string(common::kOldSqliteVersionTable) + " RENAME TO " +
                        std::string(common::kVersionTable),
                    "renaming the schema version table");
  SqliteSchemaEditor editor(connection);
  common::apply_migrations(editor, steps, "sqlite: database '" + connection.path() + "'");
  transaction.commit();
}

}  // namespace imgbatch::store::sqlite
