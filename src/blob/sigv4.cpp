#include "sigv4.hpp"
#include "core/sha256.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <utility>
#include <vector>

namespace imgbatch::blob {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::chrono::seconds kMaxExpiry{7 * 24 * 3600};

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0x0f];
  }
  return out;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &size, md, nullptr) != 1)
    throw std::runtime_error("OpenSSL digest failed");
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size) == nullptr)
    throw std::runtime_error("OpenSSL HMAC failed");
  return std::string(reinterpret_cast<const char*>(out), size);
}

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, everything
// else %XX in upper case ('/' included: this is for query values).
std::string uri_encode(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kDigits[byte >> 4];
      out += kDigits[byte & 0x0f];
    }
  }
  return out;
}

std::string utc(std::chrono::system_clock::time_point t, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, format, &tm);
  return buffer;
}

}  // namespace

std::string md5_base64(std::string_view bytes) {
  const auto d = digest(EVP_md5(), bytes);
  unsigned char out[32];
  const int n = EVP_EncodeBlock(out, reinterpret_cast<const unsigned char*>(d.data()),
                                static_cast<int>(d.size()));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string presign_get_query(const PresignRequest& request, const S3Credentials& credentials) {
  const auto expires = std::clamp(request.expires, std::chrono::seconds(1), kMaxExpiry);
  const std::string timestamp = utc(request.now, "%Y%m%dT%H%M%SZ");
  const std::string date = timestamp.substr(0, 8);
  const std::string scope = date + "/" + request.region + "/s3/aws4_request";

  // Sorted by name, as the canonical query string must be.
  std::vector<std::pair<std::string, std::string>> params = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", credentials.access_key_id + "/" + scope},
      {"X-Amz-Date", timestamp},
      {"X-Amz-Expires", std::to_string(expires.count())},
      {"X-Amz-SignedHeaders", "host"}};
  if (!credentials.session_token.empty())
    params.emplace_back("X-Amz-Security-Token", credentials.session_token);
  std::sort(params.begin(), params.end());
  std::string query;
  for (const auto& [name, value] : params) {
    if (!query.empty()) query += '&';
    query += uri_encode(name) + "=" + uri_encode(value);
  }

  const std::string canonical_request = "GET\n" + request.path + "\n" + query +
                                        "\nhost:" + request.host + "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string string_to_sign = std::string(kAlgorithm) + "\n" + timestamp + "\n" + scope +
                                     "\n" + core::sha256_hex(canonical_request);
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = hmac_sha256(key, request.region);
  key = hmac_sha256(key, "s3");
  key = hmac_sha256(key, "aws4_request");
  const std::string signature = hmac_sha256(key, string_to_sign);
  return query + "&X-Amz-Signature=" +
         hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace imgbatch::blob
