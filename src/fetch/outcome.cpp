#include "outcome.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace imgbatch::fetch::impl {
namespace {

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

using Kind = core::Failure::Kind;

void fail(FetchResult& result, Kind kind, std::string message) {
  result.failure = core::make_failure(kind, std::move(message));
}

void describe_http_status(long status, FetchResult& result) {
  // 408 and 429 ask to come back later; a 5xx is the host's own trouble, often brief.
  const bool for_now = status == 408 || status == 429 || status >= 500;
  fail(result, for_now ? Kind::http_unavailable : Kind::http_error,
       "download failed: HTTP " + std::to_string(status));
}

// curl reports every timeout as CURLE_OPERATION_TIMEDOUT; the phase the transfer was in
// says which limit ran out.
void describe_timeout(const TransferFacts& facts, const FetchLimits& limits, FetchResult& result) {
  switch (facts.phase) {
    case Phase::resolving:
      fail(result, Kind::dns_timeout,
           "could not resolve host: " + url_part(facts.url, CURLUPART_HOST) + " (timed out)");
      return;
    case Phase::connecting:
      fail(result, Kind::connect_timeout,
           "connection timed out after " + seconds_text(connect_timeout_ms(limits)) + " s");
      return;
    case Phase::transferring:
      // Connected, so either the low-speed check or the overall timeout ended it; the
      // overall timeout cannot fire before its time.
      if (facts.elapsed_ms < limits.timeout_ms) {
        fail(result, Kind::too_slow,
             "download too slow: less than " + rate_text(limits.low_speed_bytes_per_second) +
                 " for " + std::to_string(low_speed_window_seconds(limits)) + " s");
        return;
      }
      break;
    case Phase::starting:
      break;
  }
  fail(result, Kind::timed_out,
       "download timed out after " + seconds_text(limits.timeout_ms) + " s");
}

}  // namespace

long connect_timeout_ms(const FetchLimits& limits) { return std::min(limits.timeout_ms, 10'000L); }

long low_speed_window_seconds(const FetchLimits& limits) {
  return std::max(1L, std::min(limits.low_speed_window_seconds, limits.timeout_ms / 3000));
}

core::Failure shutting_down_failure() {
  return core::make_failure(Kind::shutting_down, "shutting down");
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
  result.failure.reset();

  if (facts.too_large) {
    fail(result, Kind::too_large,
         "image too large: more than " + std::to_string(limits.max_bytes) +
             " bytes (--max-image-bytes)");
    return;
  }
  // With several addresses (IPv6 and IPv4) one may be refused and another fail for an
  // ordinary reason; the refusal explains the failure only when no connection was made.
  if (facts.blocked && facts.code == CURLE_COULDNT_CONNECT) {
    fail(result, Kind::blocked_address, *facts.blocked + kPrivateNetworkHint);
    return;
  }
  const bool success_status = facts.http_status >= 200 && facts.http_status < 300;
  if (facts.http_status != 0 && !success_status &&
      (facts.code == CURLE_OK || facts.error_body_abandoned)) {
    describe_http_status(facts.http_status, result);
    return;
  }
  if (facts.code == CURLE_OK) {
    if (!success_status) fail(result, Kind::no_response, "download failed: no HTTP response");
    return;
  }

  switch (facts.code) {
    case CURLE_TOO_MANY_REDIRECTS:
      fail(result, Kind::too_many_redirects,
           "too many redirects (more than " + std::to_string(limits.max_redirects) + ")");
      return;
    case CURLE_UNSUPPORTED_PROTOCOL: {
      const std::string scheme = url_part(facts.url, CURLUPART_SCHEME);
      const bool named = !scheme.empty() && scheme != "http" && scheme != "https";
      fail(result, Kind::unsupported_scheme,
           std::string("unsupported URL scheme") + (named ? " \"" + scheme + "\"" : "") +
               ": only http and https URLs are fetched");
      return;
    }
    case CURLE_URL_MALFORMAT:
      fail(result, Kind::invalid_url, "invalid URL: " + curl_text(facts));
      return;
    case CURLE_COULDNT_RESOLVE_HOST: {
      const std::string host = url_part(facts.url, CURLUPART_HOST);
      fail(result, Kind::dns,
           "could not resolve host: " + (host.empty() ? curl_text(facts) : host));
      return;
    }
    case CURLE_OPERATION_TIMEDOUT:
      describe_timeout(facts, limits, result);
      return;
    case CURLE_PARTIAL_FILE:
      if (facts.content_length >= 0) {
        fail(result, Kind::truncated,
             "download cut short: got " + std::to_string(facts.body_bytes) + " of " +
                 std::to_string(facts.content_length) + " bytes");
      } else {
        fail(result, Kind::truncated, "download cut short: " + curl_text(facts));
      }
      return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      fail(result, Kind::tls_refused, "secure connection refused: " + curl_text(facts));
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
      fail(result, Kind::connect, "connection failed: " + curl_text(facts));
      return;
    default:
      // Anything else (out of memory, an internal error) is not the image's fault.
      fail(result, Kind::download_error, "download failed: " + curl_text(facts));
      return;
  }
}

}  // namespace imgbatch::fetch::impl
