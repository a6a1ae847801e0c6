// The seam for checking incoming webhook signatures (POST /webhook): a verifier sees the
// request's headers and raw body and says why it refuses them, or nothing. Kept apart
// from RESTinio so that webhook/ can provide one without seeing the server.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::http {

// The value of a request header by case-insensitive name, or nullopt.
using HeaderLookup = std::function<std::optional<std::string>(std::string_view name)>;
// nullopt when the notification is authentic, else why not (sent back with a 401).
using WebhookVerifier =
    std::function<std::optional<std::string>(const HeaderLookup& header, std::string_view body)>;

}  // namespace imgbatch::http
