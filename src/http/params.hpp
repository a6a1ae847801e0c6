// Parsing of the small values clients put in query strings and form fields. Strict on
// purpose: "10abc" or "1e3" is an error the client hears about, not a silent 10.
#pragma once

#include <optional>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::http {

// A decimal integer: an optional '-', then digits, nothing else; nullopt on anything else
// or on overflow.
std::optional<long long> parse_integer(std::string_view text);

struct Page {
  int offset = 0;
  int limit = 0;
};

// `offset` (default 0) and `limit` (default `default_limit`, at most `max_limit`: a larger
// value is lowered to it, the reply says which limit applied). Negative or non-numeric
// values are an error naming the parameter.
core::Result<Page> parse_page(std::optional<std::string_view> offset,
                              std::optional<std::string_view> limit, int default_limit,
                              int max_limit);

}  // namespace imgbatch::http
