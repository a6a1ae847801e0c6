// API key tokens (docs/API.md, "Authentication"): what `imgbatch keys create` prints once,
// and the hash under which the store keeps it.
#pragma once

#include <string>
#include <string_view>

namespace imgbatch::auth {

// Every token starts with this, so that one pasted into the wrong place (a log, a chat, a
// repository) is recognised for what it is.
inline constexpr std::string_view kTokenPrefix = "ib_";

// kTokenPrefix + 256 random bits from OpenSSL's CSPRNG in base64url without padding (43
// characters). Throws std::runtime_error when the generator fails.
std::string new_token();

// Lower-case hex SHA-256 of the token. A token has 256 random bits, so a fast hash is as
// good as a slow one: nobody can guess it back from its hash.
std::string token_hash(std::string_view token);

// Compares two hashes in constant time (CRYPTO_memcmp), so the time taken says nothing
// about how much of a guess was right.
bool same_hash(std::string_view a, std::string_view b);

// "key_" + a random uuid: how a key is named in the database (requests.owner_key).
std::string new_key_id();

}  // namespace imgbatch::auth
