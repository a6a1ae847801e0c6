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

// Brings the database to this build's schema: applies the migrations not yet recorded.
// Throws StoreError when one fails (nothing is applied), when the database is newer than
// this build, or when the server is older than PostgreSQL 12.
void migrate(Connection& connection);

// This build's migrations, in order (tests read the schema version from them).
std::span<const common::Migration> migrations();

}  // namespace imgbatch::store::postgres
