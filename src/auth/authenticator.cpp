#include "auth/authenticator.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "auth/tokens.hpp"

namespace imgbatch::auth {

namespace {

constexpr std::string_view kNoKey =
    "this API needs a key: send Authorization: Bearer TOKEN (an operator makes one with "
    "`imgbatch keys create`)";
constexpr std::string_view kBadKey = "the bearer token is not a valid API key (or it was revoked)";

Verdict refuse(int status, std::string_view why, bool token_given) {
  Verdict verdict;
  verdict.status = status;
  verdict.why = std::string(why);
  if (token_given) verdict.bearer_error = "invalid_token";
  return verdict;
}

Verdict allow(Caller caller) {
  Verdict verdict;
  verdict.caller = std::move(caller);
  return verdict;
}

Caller caller_of(const core::ApiKeyRecord& key) {
  Caller caller{key.id, key.name, key.admin, std::nullopt};
  if (key.images_per_day || key.uploads_per_minute)
    caller.quota = core::UploadQuota{key.images_per_day, key.uploads_per_minute};
  return caller;
}

}  // namespace

std::optional<AuthMode> parse_auth_mode(std::string_view text) {
  if (text == "auto") return AuthMode::automatic;
  if (text == "required") return AuthMode::required;
  if (text == "off") return AuthMode::off;
  return std::nullopt;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || authorization[kScheme.size()] != ' ')
    return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i])
      return std::nullopt;
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Authenticator::Authenticator(store::Store& store, AuthMode mode,
                             std::optional<std::string> metrics_token)
    : store_(store), mode_(mode) {
  if (metrics_token && !metrics_token->empty()) metrics_token_hash_ = token_hash(*metrics_token);
}

std::optional<core::ApiKeyRecord> Authenticator::key_of(std::string_view token) const {
  const std::string hash = token_hash(token);
  auto key = store_.find_api_key(hash);
  // The database found the row by its hash; comparing again in constant time keeps the
  // decision itself free of timing differences whatever the index lookup does.
  if (!key || !same_hash(key->token_hash, hash)) return std::nullopt;
  return key;
}

bool Authenticator::keys_in_force() const {
  switch (mode_) {
    case AuthMode::off:
      return false;
    case AuthMode::required:
      return true;
    case AuthMode::automatic:
      break;
  }
  return store_.any_api_key();
}

Verdict Authenticator::api_caller(std::optional<std::string_view> authorization) const {
  if (mode_ == AuthMode::off) return allow(Caller{});
  const auto token = authorization ? bearer_token(*authorization) : std::nullopt;
  if (token) {
    if (auto key = key_of(*token)) return allow(caller_of(*key));
  }
  // No key: fine only while keys are not in force (then a stray token changes nothing).
  if (!keys_in_force()) return allow(Caller{});
  return refuse(401, token ? kBadKey : kNoKey, authorization.has_value());
}

Verdict Authenticator::admin_caller(std::optional<std::string_view> authorization) const {
  Verdict verdict = api_caller(authorization);
  if (!verdict.caller || verdict.caller->sees_all()) return verdict;
  return refuse(403, "this route shows every key's data: it needs an admin key", false);
}

Verdict Authenticator::metrics_caller(std::optional<std::string_view> authorization) const {
  const auto token = authorization ? bearer_token(*authorization) : std::nullopt;
  if (token && metrics_token_hash_ && same_hash(token_hash(*token), *metrics_token_hash_))
    return allow(Caller{});
  std::optional<core::ApiKeyRecord> key;
  if (token && mode_ != AuthMode::off) key = key_of(*token);
  if (key && key->admin) return allow(caller_of(*key));
  if (key)
    return refuse(403,
                  "GET /metrics needs an admin key or the --metrics-token; this key is not "
                  "an admin key",
                  false);
  if (!metrics_token_hash_ && !keys_in_force()) return allow(Caller{});
  return refuse(401,
                token ? "the bearer token is neither an admin key nor the --metrics-token"
                      : "GET /metrics needs Authorization: Bearer with an admin key or the "
                        "--metrics-token",
                authorization.has_value());
}

}  // namespace imgbatch::auth
