// The SQLite schema as a list of numbered migrations (common/migrations.hpp). The missing
// ones run in one write transaction together with the rows in schema_migrations that
// record them, so a crash or a second process starting at the same moment never leaves a
// half-migrated file.
#pragma once

#include <span>
#include <string_view>

#include "common/migrations.hpp"
#include "sqlite/connection.hpp"

namespace imgbatch::store::sqlite {

using common::Migration;

// The migrations of this build, in order; the last one's version is the schema version
// (common::known_version).
std::span<const Migration> migrations();

// Applies the migrations not yet recorded in schema_migrations (first renaming the
// schema_version table of older files to it). Throws StoreError when one fails (nothing
// is applied) or when the database is newer than `steps`.
void migrate(Connection& connection, std::span<const Migration> steps);

}  // namespace imgbatch::store::sqlite
