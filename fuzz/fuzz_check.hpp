// What the fuzz targets share: a check that stops the run when an invariant fails (libFuzzer
// then saves the input that broke it), and the "is this valid UTF-8" question, answered by
// nlohmann::json the same way the HTTP layer will answer it when the text goes into a reply.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace imgbatch::fuzz {

// Aborts with `what` when `condition` is false; libFuzzer reports it as a crash.
inline void require(bool condition, const char* what, std::string_view detail = {}) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  if (!detail.empty()) {
    // The detail may hold any bytes; printable escapes keep the report readable.
    std::fprintf(stderr, "  detail: %s\n",
                 nlohmann::json(std::string(detail))
                     .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
                     .c_str());
  }
  std::abort();
}

// True when `text` can go into a JSON document as it is (dump throws on invalid UTF-8).
inline bool is_json_safe(std::string_view text) {
  try {
    (void)nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace imgbatch::fuzz
