// Who is calling, from a request's Authorization header (docs/API.md, "Authentication").
//
// Keys are in force with `--auth required`, or with `--auth auto` (the default) as soon as
// one key has ever been created; never with `--auth off`. While they are, an API call
// needs `Authorization: Bearer TOKEN` of a key that is not revoked. The key is looked up
// in the database by the token's hash on every call (an indexed read, no cache), so a key
// revoked through any process is refused at once by all of them. GET /metrics needs an
// admin key or the --metrics-token; it is open only while keys are not in force and there
// is no metrics token.
//
// The token itself is never kept, logged or put in a message: only its hash is used.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace imgbatch::auth {

enum class AuthMode { automatic, required, off };
// "auto", "required", "off".
std::optional<AuthMode> parse_auth_mode(std::string_view text);

// The party a request is served for.
struct Caller {
  // The key's id (ApiKeyRecord::id); none when keys are not in force (everyone is alike).
  std::optional<std::string> key_id;
  std::string key_name;  // for log lines; empty without a key
  bool admin = false;
  // The key's limits, when it has any (charged by POST /upload).
  std::optional<core::UploadQuota> quota;

  // Sees every request: an admin key, or anyone while keys are not in force.
  bool sees_all() const { return admin || !key_id; }
  // Whether this caller may see a request owned by `owner_key`.
  bool may_see(const std::optional<std::string>& owner_key) const {
    return sees_all() || owner_key == key_id;
  }
};

// The outcome of a check: a caller, or the answer to give instead (401 or 403) and why.
struct Verdict {
  std::optional<Caller> caller;
  int status = 0;  // 401 or 403 when caller is empty
  std::string why;
  // RFC 6750's error code for the WWW-Authenticate header: "invalid_token" when a token
  // was given but is not (or no longer) a key; empty when none was given.
  std::string bearer_error;
};

class Authenticator {
 public:
  // `store` must outlive this object. `metrics_token`: the --metrics-token, if any.
  Authenticator(store::Store& store, AuthMode mode, std::optional<std::string> metrics_token);

  // For an API route. `authorization`: the Authorization header's value, if any.
  Verdict api_caller(std::optional<std::string_view> authorization) const;
  // For GET /metrics.
  Verdict metrics_caller(std::optional<std::string_view> authorization) const;
  // For a route that shows every tenant's data at once: an admin key while keys are in
  // force (another key: 403), anyone while they are not.
  Verdict admin_caller(std::optional<std::string_view> authorization) const;

  AuthMode mode() const { return mode_; }

 private:
  // The key of a bearer token, or nullopt for no token or one that opens nothing.
  std::optional<core::ApiKeyRecord> key_of(std::string_view token) const;
  bool keys_in_force() const;

  store::Store& store_;
  AuthMode mode_;
  std::optional<std::string> metrics_token_hash_;
};

// The token of an "Authorization: Bearer TOKEN" value (scheme case-insensitive), or
// nullopt for another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace imgbatch::auth
