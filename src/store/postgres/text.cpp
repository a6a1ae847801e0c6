#include "postgres/text.hpp"

#include <cstdio>

#include "core/utf8.hpp"

namespace imgbatch::store::postgres {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at s[i], 0 if there is none there. NUL is
// well-formed UTF-8 but PostgreSQL cannot store it, so it counts as malformed here.
std::size_t storable_length(std::string_view s, std::size_t i) {
  return s[i] == '\0' ? 0 : core::utf8_sequence_length(s, i);
}

// Appends `text` made storable, with each byte that `escape` maps to a non-empty string
// replaced by it. Only ASCII bytes are ever escaped.
template <class Escape>
void append_storable(std::string& out, std::string_view text, Escape escape) {
  std::size_t run = 0;  // start of the bytes not yet copied, which need nothing done
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = storable_length(text, i);
    if (length == 0) {
      out.append(text.substr(run, i - run)).append(kReplacement);
      run = ++i;
      continue;
    }
    if (length == 1) {
      const std::string_view escaped = escape(text[i]);
      if (!escaped.empty()) {
        out.append(text.substr(run, i - run)).append(escaped);
        run = i + 1;
      }
    }
    i += length;
  }
  out.append(text.substr(run));
}

std::string_view no_escape(char) { return {}; }

}  // namespace

bool is_storable_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = storable_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string storable_text(std::string_view text) {
  if (is_storable_text(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  append_storable(out, text, no_escape);
  return out;
}

std::string real_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::string array_literal(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (k) out += ',';
    out += std::to_string(values[k]);
  }
  out += '}';
  return out;
}

std::string array_literal(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (k) out += ',';
    if (!values[k]) {
      out += "NULL";
      continue;
    }
    out += '"';
    append_storable(out, *values[k], [](char c) -> std::string_view {
      if (c == '"') return "\\\"";
      if (c == '\\') return "\\\\";
      return {};
    });
    out += '"';
  }
  out += '}';
  return out;
}

void append_copy_field(std::string& row, std::string_view value) {
  append_storable(row, value, [](char c) -> std::string_view {
    switch (c) {
      case '\\':
        return "\\\\";
      case '\t':
        return "\\t";
      case '\n':
        return "\\n";
      case '\r':
        return "\\r";
      default:
        return {};
    }
  });
}

void append_copy_field(std::string& row, std::int64_t value) { row += std::to_string(value); }

}  // namespace imgbatch::store::postgres
