#include "auth/tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "core/ids.hpp"
#include "core/sha256.hpp"

namespace imgbatch::auth {

namespace {

constexpr std::size_t kTokenBytes = 32;  // 256 bits

std::string base64url(const unsigned char* data, std::size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t i = 0; i < size; ++i) {
    bits = (bits << 8) | data[i];
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3f];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3f];
  return out;
}

}  // namespace

std::string new_token() {
  std::array<unsigned char, kTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("the random number generator failed; no key was made");
  return std::string(kTokenPrefix) + base64url(bytes.data(), bytes.size());
}

std::string token_hash(std::string_view token) { return core::sha256_hex(token); }

bool same_hash(std::string_view a, std::string_view b) {
  // Lengths are public (every hash has 64 characters); only the contents are compared in
  // constant time.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string new_key_id() { return "key_" + core::new_uuid(); }

}  // namespace imgbatch::auth
