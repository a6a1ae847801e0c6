// SHA-256 as lower-case hex, by OpenSSL: API key hashes, source keys and download hashes
// (issue 15), S3 payload hashes. One place, so they all mean the same digest.
#pragma once

#include <string>
#include <string_view>

namespace imgbatch::core {

// Throws std::runtime_error if OpenSSL fails (it does not, short of memory).
std::string sha256_hex(std::string_view bytes);

}  // namespace imgbatch::core
