// The names of the images a task stores, as the stores need them to queue those images
// for removal (a deleted request, a late outcome of a cancelled one): the full-size image
// and each of the request's sizes (core::sized_output_name).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::store::common {

// The names, inside its request, of every image a succeeded outcome stored: the full-size
// one, then each size's (core::sized_output_name). Empty for other outcomes.
std::vector<std::string> stored_names(const core::TaskOutcome& outcome);

// The blob keys of a stored image and its sizes: `key`, then core::sized_output_name(key,
// size) for each size.
std::vector<std::string> stored_keys(const std::string& key, const std::vector<std::string>& sizes);
// The names of the sizes a request keeps as text (its `sizes` column).
std::vector<std::string> size_names(const std::string& stored_sizes, std::string_view backend);

}  // namespace imgbatch::store::common
