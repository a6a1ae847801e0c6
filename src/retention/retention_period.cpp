#include "retention/retention_period.hpp"

#include <cstdint>

namespace imgbatch::retention {

std::optional<std::chrono::milliseconds> parse_retention(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1'000;
      break;
    case 'm':
      unit_ms = 60'000;
      break;
    case 'h':
      unit_ms = 3'600'000;
      break;
    case 'd':
      unit_ms = 86'400'000;
      break;
    default:
      return std::nullopt;
  }
  constexpr std::int64_t kMaxMs = std::int64_t{36'500} * 86'400'000;
  std::int64_t value = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value * unit_ms > kMaxMs) return std::nullopt;  // also stops any overflow
  }
  return std::chrono::milliseconds(value * unit_ms);
}

}  // namespace imgbatch::retention
