// The items of an output CSV field that joins several (image URLs, reports) with ",", an
// empty item where an image has none: what the e2e tests compare with GET /status.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace imgbatch::test_support {

inline std::vector<std::string> split_items(const std::string& joined) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(joined);
  while (std::getline(in, item, ',')) items.push_back(item);
  if (!joined.empty() && joined.back() == ',') items.emplace_back();
  return items;
}

}  // namespace imgbatch::test_support
