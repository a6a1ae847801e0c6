// The names of the images a task stores, as the stores need them to queue those images
// for removal (a deleted request, a late outcome of a cancelled one): the full-size image
// and each of the request's sizes (core::sized_output_name), in C++ and in SQL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::store::common {

// The names, inside its request, of every image a succeeded outcome stored: the full-size
// one, then each size's (core::sized_output_name). Empty for other outcomes.
std::vector<std::string> stored_names(const core::TaskOutcome& outcome);

// In SQL, the name of one of a task's images from its output_name and the parameter
// `suffix` ("?4", "$2"): '' for the full-size image, '-' + size for a size, as
// core::sized_output_name makes them (output names have one dot, before the extension).
inline std::string sized_name_sql(std::string_view suffix) {
  return "replace(output_name, '.', " + std::string(suffix) + " || '.')";
}
// The suffixes of the full-size image and of each size: "", "-thumb", "-card", ….
std::vector<std::string> name_suffixes(const std::vector<std::string>& sizes);
// The names of the sizes a request keeps as text (its `sizes` column).
std::vector<std::string> size_names(const std::string& stored_sizes, std::string_view backend);

}  // namespace imgbatch::store::common
