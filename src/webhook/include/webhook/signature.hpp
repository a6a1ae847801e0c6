// Standard Webhooks signatures (https://www.standardwebhooks.com, the scheme Svix uses):
// a notification carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
// `webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>`.
// The key is the base64 part of a "whsec_..." secret, decoded once at start-up with
// parse_secret. Verification accepts any one matching "v1," entry among several (key
// rotation), compares in constant time, and refuses timestamps more than a tolerance
// away from now (replays).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::webhook {

inline constexpr std::string_view kSecretPrefix = "whsec_";
inline constexpr std::int64_t kDefaultToleranceSeconds = 300;

// "whsec_" + base64, or bare base64, to the key bytes. An error (meant for start-up,
// naming --webhook-secret) when the base64 is invalid or the key empty.
core::Result<std::string> parse_secret(std::string_view secret);

// "v1,<base64 signature>".
std::string sign(std::string_view key, std::string_view msg_id, std::int64_t timestamp_seconds,
                 std::string_view body);

// The three headers of one signed notification, named as on the wire.
struct SignatureHeaders {
  static constexpr std::string_view kId = "webhook-id";
  static constexpr std::string_view kTimestamp = "webhook-timestamp";
  static constexpr std::string_view kSignature = "webhook-signature";
  std::string id;
  std::string timestamp;
  std::string signature;
};

SignatureHeaders sign_headers(std::string_view key, std::string_view msg_id,
                              std::int64_t timestamp_seconds, std::string_view body);

enum class Verification {
  ok,
  missing_headers,        // a header is absent or empty
  bad_timestamp,          // not a decimal number of seconds
  too_old,                // older than the tolerance: maybe a replay
  too_new,                // further in the future than the tolerance
  no_matching_signature,  // wrong key, altered body, or no "v1," entry at all
};

std::string_view to_string(Verification v);

// Header values as received; an empty view counts as missing.
struct ReceivedHeaders {
  std::string_view id;
  std::string_view timestamp;
  std::string_view signature;
};

Verification verify(std::string_view key, const ReceivedHeaders& headers, std::string_view body,
                    std::int64_t now_seconds,
                    std::int64_t tolerance_seconds = kDefaultToleranceSeconds);

}  // namespace imgbatch::webhook
