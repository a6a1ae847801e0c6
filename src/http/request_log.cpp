#include "request_log.hpp"

#include <algorithm>
#include <cctype>

#include <restinio/uri_helpers.hpp>

#include "core/ids.hpp"

namespace imgbatch::http {

namespace {

std::string lower_uuid_or_empty(std::string_view text) {
  std::string id(text);
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return core::is_uuid(id) ? id : std::string();
}

}  // namespace

std::string request_id_of(const restinio::request_t& req,
                          const restinio::router::route_params_t& params) {
  if (params.has("id")) {
    const auto id = params["id"];
    return lower_uuid_or_empty(std::string_view(id.data(), id.size()));
  }
  const auto query = req.header().query();
  if (query.find("request_id") == std::string_view::npos) return {};
  auto parsed =
      restinio::try_parse_query<restinio::parse_query_traits::javascript_compatible>(query);
  if (!parsed) return {};
  const auto value = parsed->get_param("request_id");
  if (!value) return {};
  return lower_uuid_or_empty(std::string_view(value->data(), value->size()));
}

}  // namespace imgbatch::http
