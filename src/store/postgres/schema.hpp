// The PostgreSQL schema as a list of numbered migrations (common/migrations.hpp).
// All the missing steps run in one transaction that first takes a transaction-level
// advisory lock, so that any number of processes starting at once on the same database
// migrate it exactly once: the others wait for the lock, then find nothing left to do.
#pragma once

#include <span>
#include <string_view>

#include "common/migrations.hpp"
#include "postgres/connection.hpp"

namespace imgbatch::store::postgres {

using common::Migration;

// The migrations of this build, in order; the last one's version is the schema version.
std::span<const Migration> migrations();
int latest_schema_version();

// Applies the migrations not yet recorded. Throws StoreError when one fails (nothing is
// applied), when the database is newer than `steps`, or when the server is older than
// PostgreSQL 12.
void migrate(Connection& connection, std::span<const Migration> steps);

}  // namespace imgbatch::store::postgres
