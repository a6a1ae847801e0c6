#include "common/migrations.hpp"

#include "store/store.hpp"

namespace imgbatch::store::common {

int known_version(std::span<const Migration> steps) {
  return steps.empty() ? 0 : steps.back().version;
}

bool apply_migrations(SchemaEditor& editor, std::span<const Migration> steps,
                      std::string_view database) {
  editor.exec(kCreateVersionTable, "creating the " + std::string(kVersionTable) + " table");
  // Read under the backend's exclusion: another process may have migrated a moment ago.
  const int current = editor.recorded_version();
  const int known = known_version(steps);
  if (current > known)
    throw StoreError(std::string(database) + " has schema version " + std::to_string(current) +
                     " but this build knows only up to " + std::to_string(known) +
                     "; run a newer imgbatch against it");
  bool applied = false;
  for (const Migration& step : steps) {
    if (step.version <= current) continue;
    editor.exec(step.sql, "applying schema migration " + std::to_string(step.version));
    editor.record(step.version, core::now_ms());
    applied = true;
  }
  return applied;
}

}  // namespace imgbatch::store::common
