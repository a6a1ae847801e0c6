#include "retry_after.hpp"

#include <curl/curl.h>

#include <charconv>
#include <string>
#include <system_error>

namespace imgbatch::fetch {

std::optional<long> parse_retry_after(std::string_view value, std::time_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n'))
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;

  if (value.front() >= '0' && value.front() <= '9') {
    long seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && end == value.data() + value.size()) return seconds;
    return std::nullopt;  // "12abc", or too many digits: a date never starts with a digit
  }
  // curl_getdate reads all three forms RFC 9110 requires recipients to accept
  // (IMF-fixdate, RFC 850, asctime).
  const std::string text(value);
  const std::time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return when > now ? static_cast<long>(when - now) : 0L;
}

}  // namespace imgbatch::fetch
