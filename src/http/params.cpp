#include "params.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <string>

namespace imgbatch::http {

std::optional<long long> parse_integer(std::string_view text) {
  if (text.empty() || text.front() == '+') return std::nullopt;
  long long value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

namespace {
core::Result<int> parse_non_negative(std::string_view name, std::string_view text) {
  const auto value = parse_integer(text);
  if (!value || *value < 0)
    return core::make_error("query parameter '" + std::string(name) +
                            "' must be a non-negative integer, got '" + std::string(text) + "'");
  return static_cast<int>(std::min<long long>(*value, std::numeric_limits<int>::max()));
}
}  // namespace

core::Result<Page> parse_page(std::optional<std::string_view> offset,
                              std::optional<std::string_view> limit, int default_limit,
                              int max_limit) {
  Page page{0, default_limit};
  if (offset) {
    auto parsed = parse_non_negative("offset", *offset);
    if (!parsed) return parsed.error();
    page.offset = *parsed;
  }
  if (limit) {
    auto parsed = parse_non_negative("limit", *limit);
    if (!parsed) return parsed.error();
    page.limit = std::min(*parsed, max_limit);
  }
  return page;
}

}  // namespace imgbatch::http
