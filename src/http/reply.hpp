// Reply: what a route hands back, before it becomes a RESTinio response. Routes return
// values instead of writing to the connection themselves so that one place (server.cpp)
// sets the status line, logs the request and turns unexpected exceptions into problems.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace imgbatch::http {

inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::string_view kProblemType = "application/problem+json";

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type among them
  std::string body;
  // For a HEAD a route answers itself without reading the body (an image in an object
  // store): the Content-Length the GET would send. Otherwise the body's own size is used.
  std::optional<std::size_t> head_content_length;

  Reply& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

Reply json_reply(int status, const nlohmann::json& body);

// "OK", "Not Found", …: the reason phrase of the status line, and a problem's title.
std::string_view reason_phrase(int status);

// True when an If-None-Match header value ("*" or a list of entity tags, maybe weak)
// matches `etag` (quoted), compared weakly as RFC 9110 says: the answer is then a 304.
bool matches_if_none_match(std::string_view header, std::string_view etag);

}  // namespace imgbatch::http
