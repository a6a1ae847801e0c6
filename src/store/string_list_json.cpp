#include "string_list_json.hpp"

#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "store/store.hpp"

namespace imgbatch::store {

namespace {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied, which need no escaping
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t length = core::utf8_sequence_length(s, i);
      if (length > 0) {
        i += length;
        continue;
      }
      // The CSV module rejects bytes that are not UTF-8, so this only guards against a
      // caller that skipped it: better a U+FFFD in one field than a request that cannot
      // be read back.
      out.append(s.substr(run, i - run));
      out += "\xEF\xBF\xBD";
      run = ++i;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.substr(run, i - run));
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    run = ++i;
  }
  out.append(s.substr(run));
  out += '"';
}

}  // namespace

// Written by hand rather than through nlohmann::json: building a JSON value per product
// was the largest cost of storing a 100,000-row upload after SQLite itself.
std::string encode_string_list(const std::vector<std::string>& items) {
  std::size_t size = 2;
  for (const auto& item : items) size += item.size() + 3;
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (k) out += ',';
    append_json_string(out, items[k]);
  }
  out += ']';
  return out;
}

std::vector<std::string> decode_string_list(std::string_view json) {
  try {
    return nlohmann::json::parse(json).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw StoreError("stored string list is not a JSON array of strings: " + std::string(e.what()));
  }
}

}  // namespace imgbatch::store
