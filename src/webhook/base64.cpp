#include "base64.hpp"

#include <openssl/evp.h>

namespace imgbatch::webhook {
namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock trims white space, accepts '=' in odd places and counts padding as
  // zero bytes, so the shape is checked here and the padding subtracted after.
  std::size_t data_len = text.size();
  std::size_t pad = 0;
  while (pad < 2 && data_len > 0 && text[data_len - 1] == '=') {
    --data_len;
    ++pad;
  }
  for (std::size_t i = 0; i < data_len; ++i) {
    if (!is_base64_char(text[i])) return std::nullopt;
  }
  if (data_len % 4 == 1) return std::nullopt;
  if (pad > 0 && (data_len + pad) % 4 != 0) return std::nullopt;

  std::string padded(text.substr(0, data_len));
  padded.append((4 - data_len % 4) % 4, '=');
  const std::size_t missing = padded.size() - data_len;  // padding chars, each one zero byte

  std::string out(padded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(padded.data()),
                          static_cast<int>(padded.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - missing);
  return out;
}

}  // namespace imgbatch::webhook
