// Parsing a Retry-After header value (RFC 9110 §10.2.3), which is either a number of
// seconds or an HTTP-date; the pipeline uses the result to delay a retry.
#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace imgbatch::fetch {

// Seconds to wait from `now`: "120" → 120; an HTTP-date → its distance from now, 0 when
// it has passed; nullopt for anything else (negative, overflowing, not a date).
std::optional<long> parse_retry_after(std::string_view value, std::time_t now);

}  // namespace imgbatch::fetch
