// `imgbatch keys create|list|revoke`: the API keys in the database (docs/API.md,
// "Authentication"). A token is printed once, by `create`; the database keeps its hash.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "store/store.hpp"

namespace imgbatch {

struct KeysCreateArgs {
  std::string name;
  bool admin = false;
  std::optional<std::int64_t> images_per_day;
  std::optional<std::int64_t> uploads_per_minute;
};

// Exit codes: 0 done; 2 refused (a name in use, no such key, a bad name), with the reason
// on `err`. The store's own failures are thrown (StoreError).
int keys_create(store::Store& store, const KeysCreateArgs& args, std::ostream& out,
                std::ostream& err);
int keys_list(store::Store& store, std::ostream& out);
int keys_revoke(store::Store& store, const std::string& name, std::ostream& out, std::ostream& err);

}  // namespace imgbatch
