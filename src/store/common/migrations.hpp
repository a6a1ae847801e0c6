// The migration runner of both backends. A schema is a list of numbered migrations; the
// versions applied are recorded in one table, kVersionTable. The backend opens a
// transaction that excludes other migrators (SQLite: its write lock; PostgreSQL: an
// advisory lock) and hands the runner a SchemaAccess to it; the runner applies what is
// missing, so the missing steps and their records are saved together or not at all.
#pragma once

#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::store::common {

struct Migration {
  int version;
  std::string_view sql;
};

// Where each backend records its schema version.
inline constexpr std::string_view kVersionTable = "schema_migrations";
// The name SQLite databases used for it before it was shared with PostgreSQL; such a
// table is renamed on opening (SQLite's migrate).
inline constexpr std::string_view kOldSqliteVersionTable = "schema_version";

// The columns of `requests` after its key, id and status, as migration 1 of either backend
// creates them (SQLite stores a BIGINT as an INTEGER). A migration, once released, is never
// edited: a change is a new migration.
inline constexpr std::string_view kRequestColumnsV1 = R"sql(
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
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
)sql";

// A backend's list of migrations, with migration 1 assembled from the backend's SQL before
// and after kRequestColumnsV1, followed by the backend's own later migrations (versions 2,
// 3, … in order).
class Schema {
 public:
  Schema(std::string_view v1_head, std::string_view v1_tail,
         std::initializer_list<Migration> later = {});
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;
  std::span<const Migration> migrations() const { return steps_; }

 private:
  std::string v1_;
  std::vector<Migration> steps_;
};

// Reads the recorded version (0 for none), in SQL both backends accept.
inline constexpr std::string_view kReadVersion =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";

// One backend's way to run statements, inside the transaction described above.
struct SchemaAccess {
  std::function<void(std::string_view sql, const std::string& doing)> exec;
  // The integer in the first column of the first row.
  std::function<int(std::string_view sql, const std::string& doing)> read_integer;
};

// The version of the last of `steps` (0 for none): the schema version of this build.
int known_version(std::span<const Migration> steps);

// Creates the version table if needed and applies the steps newer than the recorded
// version. Returns whether it applied any. Throws StoreError, naming `database` (e.g.
// "sqlite: database 'x.db'"), when the database is newer than `steps`; a failing step
// throws from `access`.
bool apply_migrations(const SchemaAccess& access, std::span<const Migration> steps,
                      std::string_view database);

}  // namespace imgbatch::store::common
