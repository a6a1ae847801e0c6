// Byte-level text helpers for the CSV module: ASCII trimming and case folding (CSV
// headers and URL schemes are ASCII), UTF-8 validation, and making an arbitrary input
// value safe to quote inside a message that ends up in JSON.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace imgbatch::csv::impl {

inline bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s);
bool is_all_blank(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);

// Offset of the first byte that is not part of a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF are ill-formed), or npos.
std::size_t find_invalid_utf8(std::string_view s);

// `s` as valid UTF-8 without control characters (each bad byte or control character
// becomes U+FFFD), cut to about `max_bytes` with "…" so a huge value cannot flood a message.
std::string printable(std::string_view s, std::size_t max_bytes = 120);

}  // namespace imgbatch::csv::impl
