#include "outcome.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace imgbatch::fetch::impl {
namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string url_part(const std::string& url, CURLUPart part) {
  std::string out;
  CURLU* u = curl_url();
  if (u == nullptr) return out;
  // Guessing and non-http schemes are allowed here: this only names what failed.
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME | CURLU_GUESS_SCHEME) ==
      CURLUE_OK) {
    char* value = nullptr;
    if (curl_url_get(u, part, &value, 0) == CURLUE_OK && value != nullptr) out = value;
    curl_free(value);
  }
  curl_url_cleanup(u);
  return out;
}

std::string curl_text(const TransferFacts& facts) {
  return facts.curl_message.empty() ? curl_easy_strerror(facts.code) : facts.curl_message;
}

std::string rate_text(long bytes_per_second) {
  if (bytes_per_second >= 1024 && bytes_per_second % 1024 == 0)
    return std::to_string(bytes_per_second / 1024) + " KB/s";
  return std::to_string(bytes_per_second) + " bytes/s";
}

void fail(FetchResult& result, std::string message, bool transient) {
  result.ok = false;
  result.error = std::move(message);
  result.transient = transient;
}

void describe_http_status(long status, FetchResult& result) {
  const bool transient = status == 408 || status == 429 || status >= 500;
  fail(result, "download failed: HTTP " + std::to_string(status), transient);
}

// curl reports every timeout as CURLE_OPERATION_TIMEDOUT; its message (stable for many
// releases) says which phase ran out of time.
void describe_timeout(const TransferFacts& facts, const FetchLimits& limits, FetchResult& result) {
  const std::string_view message = facts.curl_message;
  if (starts_with_ci(message, "Operation too slow")) {
    fail(result,
         "download too slow: less than " + rate_text(limits.low_speed_bytes_per_second) +
             " for " + std::to_string(low_speed_window_seconds(limits)) + " s",
         true);
  } else if (starts_with_ci(message, "Resolving timed out")) {
    fail(result, "could not resolve host: " + url_part(facts.url, CURLUPART_HOST) + " (timed out)",
         true);
  } else if (starts_with_ci(message, "Connection timed out")) {
    fail(result, "connection timed out after " + seconds_text(connect_timeout_ms(limits)) + " s",
         true);
  } else {
    fail(result, "download timed out after " + seconds_text(limits.timeout_ms) + " s", true);
  }
}

}  // namespace

long connect_timeout_ms(const FetchLimits& limits) {
  return std::min(limits.timeout_ms, 10'000L);
}

long low_speed_window_seconds(const FetchLimits& limits) {
  return std::max(1L, std::min(limits.low_speed_window_seconds, limits.timeout_ms / 3000));
}

std::string seconds_text(long milliseconds) {
  if (milliseconds % 1000 == 0) return std::to_string(milliseconds / 1000);
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(milliseconds) / 1000.0);
  return text;
}

void describe_outcome(const TransferFacts& facts, const FetchLimits& limits, FetchResult& result) {
  result.http_status = facts.http_status;
  result.retry_after_seconds = facts.retry_after_seconds;

  if (facts.too_large) {
    fail(result,
         "image too large: more than " + std::to_string(limits.max_bytes) +
             " bytes (--max-image-bytes)",
         false);
    return;
  }
  // With several addresses (IPv6 and IPv4) one may be refused and another fail for an
  // ordinary reason; the refusal explains the failure only when no connection was made.
  if (facts.blocked && facts.code == CURLE_COULDNT_CONNECT) {
    fail(result, *facts.blocked + kPrivateNetworkHint, false);
    return;
  }
  const bool success_status = facts.http_status >= 200 && facts.http_status < 300;
  if (facts.http_status != 0 && !success_status &&
      (facts.code == CURLE_OK || facts.error_body_abandoned)) {
    describe_http_status(facts.http_status, result);
    return;
  }
  if (facts.code == CURLE_OK) {
    if (success_status) {
      result.ok = true;
      result.error.clear();
      result.transient = false;
    } else {
      fail(result, "download failed: no HTTP response", true);
    }
    return;
  }

  switch (facts.code) {
    case CURLE_TOO_MANY_REDIRECTS:
      fail(result, "too many redirects (more than " + std::to_string(limits.max_redirects) + ")",
           false);
      return;
    case CURLE_UNSUPPORTED_PROTOCOL: {
      const std::string scheme = url_part(facts.url, CURLUPART_SCHEME);
      const bool named = !scheme.empty() && scheme != "http" && scheme != "https";
      fail(result,
           std::string("unsupported URL scheme") + (named ? " \"" + scheme + "\"" : "") +
               ": only http and https URLs are fetched",
           false);
      return;
    }
    case CURLE_URL_MALFORMAT:
      fail(result, "invalid URL: " + curl_text(facts), false);
      return;
    case CURLE_COULDNT_RESOLVE_HOST: {
      const std::string host = url_part(facts.url, CURLUPART_HOST);
      // A DNS failure is often momentary (a resolver hiccup), so it is retried.
      fail(result, "could not resolve host: " + (host.empty() ? curl_text(facts) : host), true);
      return;
    }
    case CURLE_OPERATION_TIMEDOUT:
      describe_timeout(facts, limits, result);
      return;
    case CURLE_PARTIAL_FILE:
      if (facts.content_length >= 0) {
        fail(result,
             "download cut short: got " + std::to_string(facts.body_bytes) + " of " +
                 std::to_string(facts.content_length) + " bytes",
             true);
      } else {
        fail(result, "download cut short: " + curl_text(facts), true);
      }
      return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      // A host with a bad certificate will not have a good one a minute later.
      fail(result, "secure connection refused: " + curl_text(facts), false);
      return;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      fail(result, "connection failed: " + curl_text(facts), true);
      return;
    default:
      // Anything else (out of memory, an internal error) is not the image's fault.
      fail(result, "download failed: " + curl_text(facts), true);
      return;
  }
}

}  // namespace imgbatch::fetch::impl
