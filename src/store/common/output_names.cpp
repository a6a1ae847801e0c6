#include "common/output_names.hpp"

#include "store/store.hpp"

namespace imgbatch::store::common {

std::vector<std::string> stored_names(const core::TaskOutcome& outcome) {
  std::vector<std::string> names;
  if (!outcome.output_name) return names;
  names.push_back(*outcome.output_name);
  for (const auto& size : outcome.sizes)
    names.push_back(core::sized_output_name(*outcome.output_name, size));
  return names;
}

std::vector<std::string> stored_keys(const std::string& key,
                                     const std::vector<std::string>& sizes) {
  std::vector<std::string> keys{key};
  for (const auto& size : sizes) keys.push_back(core::sized_output_name(key, size));
  return keys;
}

std::vector<std::string> size_names(const std::string& stored_sizes, std::string_view backend) {
  auto sizes = core::parse_output_sizes(stored_sizes);
  if (!sizes)
    throw StoreError(std::string(backend) + ": unknown list of sizes '" + stored_sizes +
                     "' in the database (written by a newer imgbatch?)");
  std::vector<std::string> names;
  for (const auto& size : *sizes) names.push_back(size.name);
  return names;
}

}  // namespace imgbatch::store::common
