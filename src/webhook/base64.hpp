// Standard base64 (RFC 4648, with '+' '/' and '=' padding), the encoding of Standard
// Webhooks secrets and signatures, done with OpenSSL's block coder.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::webhook {

std::string base64_encode(std::string_view bytes);

// nullopt for anything that is not base64. Padding may be left off (some secret
// generators do); white space is not allowed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace imgbatch::webhook
