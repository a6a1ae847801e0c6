#include "webhook/signature.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <charconv>
#include <memory>
#include <stdexcept>

#include "base64.hpp"

namespace imgbatch::webhook {
namespace {

constexpr std::size_t kSha256Size = 32;
constexpr std::string_view kVersion = "v1,";

struct MacDeleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// The raw 32-byte HMAC. Streams the parts instead of concatenating, so a large body is
// not copied. A failure here is a broken OpenSSL installation, hence an exception.
std::string hmac_sha256(std::string_view key, std::string_view msg_id, std::string_view timestamp,
                        std::string_view body) {
  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  std::unique_ptr<EVP_MAC_CTX, MacDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) throw std::runtime_error("EVP_MAC_CTX_new failed");

  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  // A null key pointer means "keep the previous key" to OpenSSL; an empty key is a valid
  // (if useless) HMAC key, so point at something even when the length is zero.
  static const unsigned char kNoKey = 0;
  const auto* key_bytes =
      key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), key_bytes, key.size(), params) != 1) {
    throw std::runtime_error("HMAC-SHA256 init failed");
  }
  auto update = [&](std::string_view part) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                       part.size()) != 1) {
      throw std::runtime_error("HMAC-SHA256 update failed");
    }
  };
  update(msg_id);
  update(".");
  update(timestamp);
  update(".");
  update(body);
  std::string out(kSha256Size, '\0');
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) !=
          1 ||
      len != kSha256Size) {
    throw std::runtime_error("HMAC-SHA256 final failed");
  }
  return out;
}

bool parse_seconds(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;  // no sign, no spaces: from_chars alone allows '-'
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

core::Result<std::string> parse_secret(std::string_view secret) {
  std::string_view encoded = secret;
  if (encoded.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    encoded.remove_prefix(kSecretPrefix.size());
  }
  auto key = base64_decode(encoded);
  if (!key) {
    return core::make_error(
        "invalid webhook secret: expected \"whsec_\" followed by base64 (as Standard Webhooks "
        "and Svix generate), check --webhook-secret / IMGBATCH_WEBHOOK_SECRET");
  }
  if (key->empty()) {
    return core::make_error(
        "invalid webhook secret: the key is empty; use \"whsec_\" followed by the base64 of "
        "24 to 64 random bytes");
  }
  return std::move(*key);
}

std::string sign(std::string_view key, std::string_view msg_id, std::int64_t timestamp_seconds,
                 std::string_view body) {
  const std::string ts = std::to_string(timestamp_seconds);
  return std::string(kVersion) + base64_encode(hmac_sha256(key, msg_id, ts, body));
}

SignatureHeaders sign_headers(std::string_view key, std::string_view msg_id,
                              std::int64_t timestamp_seconds, std::string_view body) {
  return SignatureHeaders{std::string(msg_id), std::to_string(timestamp_seconds),
                          sign(key, msg_id, timestamp_seconds, body)};
}

std::string_view to_string(Verification v) {
  switch (v) {
    case Verification::ok:
      return "ok";
    case Verification::missing_headers:
      return "missing webhook-id, webhook-timestamp or webhook-signature header";
    case Verification::bad_timestamp:
      return "webhook-timestamp is not a number of seconds";
    case Verification::too_old:
      return "webhook-timestamp is too old";
    case Verification::too_new:
      return "webhook-timestamp is in the future";
    case Verification::no_matching_signature:
      return "no matching signature";
  }
  return "unknown";
}

Verification verify(std::string_view key, const ReceivedHeaders& headers, std::string_view body,
                    std::int64_t now_seconds, std::int64_t tolerance_seconds) {
  if (headers.id.empty() || headers.timestamp.empty() || headers.signature.empty()) {
    return Verification::missing_headers;
  }
  std::int64_t ts = 0;
  if (!parse_seconds(headers.timestamp, ts)) return Verification::bad_timestamp;
  // Compare as differences checked against overflow-free bounds: ts may be huge.
  if (ts < now_seconds && now_seconds - ts > tolerance_seconds) return Verification::too_old;
  if (ts > now_seconds && ts - now_seconds > tolerance_seconds) return Verification::too_new;

  // Sign the timestamp as received, so "0123" signed by a sender is checked as "0123".
  const std::string expected = hmac_sha256(key, headers.id, headers.timestamp, body);
  std::string_view rest = headers.signature;
  bool matched = false;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    std::string_view entry = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (entry.substr(0, kVersion.size()) != kVersion) continue;  // other schemes: not ours
    auto candidate = base64_decode(entry.substr(kVersion.size()));
    if (!candidate || candidate->size() != expected.size()) continue;
    // Keep scanning after a match so the time taken does not tell which entry matched.
    matched |= CRYPTO_memcmp(candidate->data(), expected.data(), expected.size()) == 0;
  }
  return matched ? Verification::ok : Verification::no_matching_signature;
}

}  // namespace imgbatch::webhook
