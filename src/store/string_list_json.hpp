// The CSV header and a product's fields are lists of strings that are only ever read and
// written whole, so backends keep each one as a JSON array in a single column instead
// of a row per cell.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace imgbatch::store {

std::string encode_string_list(const std::vector<std::string>& items);
// Throws StoreError when `json` is not an array of strings (a damaged database).
std::vector<std::string> decode_string_list(std::string_view json);

}  // namespace imgbatch::store
