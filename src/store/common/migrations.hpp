// The migration runner of both backends. A schema is a list of numbered migrations; the
// versions applied are recorded in one table, kVersionTable. The backend opens a
// transaction that excludes other migrators (SQLite: its write lock; PostgreSQL: an
// advisory lock) and hands the runner a SchemaEditor for it; the runner applies what is
// missing, so the missing steps and their records are saved together or not at all.
#pragma once

#include <span>
#include <string>
#include <string_view>

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

// SQL both backends accept.
inline constexpr std::string_view kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";
inline constexpr std::string_view kReadVersion =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";

// The statements of one backend, inside the transaction described above.
class SchemaEditor {
 public:
  virtual ~SchemaEditor() = default;
  virtual void exec(std::string_view sql, const std::string& doing) = 0;
  // kReadVersion's answer.
  virtual int recorded_version() = 0;
  virtual void record(int version, core::TimeMs applied_at) = 0;
};

// The version of the last of `steps` (0 for none).
int known_version(std::span<const Migration> steps);

// Creates the version table if needed and applies the steps newer than the recorded
// version. Returns whether it applied any. Throws StoreError, naming `database` (e.g.
// "sqlite: database 'x.db'"), when the database is newer than `steps`; a failing step
// throws from the editor.
bool apply_migrations(SchemaEditor& editor, std::span<const Migration> steps,
                      std::string_view database);

}  // namespace imgbatch::store::common
