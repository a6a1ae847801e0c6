// RFC 9457 problem details: every error answer of the API is application/problem+json
// with `type`, `title`, `status` and `detail`, so a client handles all of them one way.
// `type` is "about:blank" (the title is then the status's reason phrase); an `errors`
// array carries itemised problems, e.g. each bad line of an uploaded CSV.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "reply.hpp"

namespace imgbatch::http {

// `detail` says what was wrong and, where it can, what to do about it.
Reply problem(int status, std::string detail);
Reply problem(int status, std::string detail, nlohmann::json errors);
// With RFC 9457 extension members (a JSON object) after the standard ones.
Reply problem_with_members(int status, std::string detail, const nlohmann::json& members);

}  // namespace imgbatch::http
