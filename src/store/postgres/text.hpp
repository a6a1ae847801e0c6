// Text on its way to PostgreSQL. A TEXT value there must be valid UTF-8 without NUL bytes,
// while SQLite stores any bytes: an error message quoting a hostile server, or a product
// name with a NUL in it, would otherwise make a write fail every time it is retried. Such
// bytes become U+FFFD instead, as encode_string_list does for its JSON. Also the two
// literal forms the backend sends: array literals (for batched statements over unnest)
// and COPY text rows (for bulk inserts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbatch::store::postgres {

// `text` as is if PostgreSQL accepts it (the common case), else with each NUL byte and each
// byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string storable_text(std::string_view text);
bool is_storable_text(std::string_view text);

// A double as text the server reads back as the same double (17 significant digits).
std::string real_text(double value);

// "{1,2,3}"
std::string array_literal(const std::vector<std::int64_t>& values);
// "{\"a\",NULL,\"b \\\"c\\\"\"}": each element quoted and escaped, nullopt as NULL.
std::string array_literal(const std::vector<std::optional<std::string>>& values);

// Appends one field of a COPY text-format row (storable, with backslash, tab, newline and
// carriage return escaped).
void append_copy_field(std::string& row, std::string_view value);
void append_copy_field(std::string& row, std::int64_t value);

}  // namespace imgbatch::store::postgres
