// The SQLite schema as a list of numbered migrations. Each runs once, in its own write
// transaction together with the row in schema_version that records it, so a crash or a
// second process starting at the same moment never leaves a half-migrated file.
#pragma once

#include <span>
#include <string_view>

#include "sqlite/connection.hpp"

namespace imgbatch::store::sqlite {

struct Migration {
  int version;
  std::string_view sql;
};

// The migrations of this build, in order; the last one's version is the schema version.
std::span<const Migration> migrations();
int latest_schema_version();

// Applies the migrations not yet recorded in schema_version. Throws StoreError when one
// fails (that migration is rolled back) or when the database is newer than `steps`.
void migrate(Connection& connection, std::span<const Migration> steps);

}  // namespace imgbatch::store::sqlite
