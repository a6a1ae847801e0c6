#include "common/migrations.hpp"

#include <stdexcept>

#include "store/store.hpp"

namespace imgbatch::store::common {

Schema::Schema(std::string_view v1_head, std::string_view v1_tail,
               std::initializer_list<Migration> later)
    : v1_(std::string(v1_head) + std::string(kRequestColumnsV1) + std::string(v1_tail)) {
  steps_.push_back({1, v1_});
  for (const Migration& step : later) {
    if (step.version != steps_.back().version + 1)
      throw std::logic_error("migrations must be numbered 1, 2, 3, … in order");
    steps_.push_back(step);
  }
}

int known_version(std::span<const Migration> steps) {
  return steps.empty() ? 0 : steps.back().version;
}

bool apply_migrations(const SchemaAccess& access, std::span<const Migration> steps,
                      std::string_view database) {
  // Types both backends accept.
  access.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
      "creating the schema_migrations table");
  // Read under the backend's exclusion: another process may have migrated a moment ago.
  const int current = access.read_integer(kReadVersion, "reading the schema version");
  const int known = known_version(steps);
  if (current > known)
    throw StoreError(std::string(database) + " has schema version " + std::to_string(current) +
                     " but this build knows only up to " + std::to_string(known) +
                     "; run a newer imgbatch against it");
  bool applied = false;
  for (const Migration& step : steps) {
    if (step.version <= current) continue;
    const std::string version = std::to_string(step.version);
    access.exec(step.sql, "applying schema migration " + version);
    // Two integers of ours: nothing to escape.
    access.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (" + version + ", " +
                    std::to_string(core::now_ms()) + ")",
                "recording schema migration " + version);
    applied = true;
  }
  return applied;
}

}  // namespace imgbatch::store::common
