// The dashboard and the API description: GET / (web/index.html), GET /web/NAME (the other
// files of web/) and GET /openapi.yaml (docs/openapi.yaml), all compiled into the binary
// (embedded_files.hpp). They change only with the binary, so they are revalidated on every
// load (no-cache) against an ETag made from their SHA-256, which costs a 304 and no bytes.
#include <string>
#include <string_view>

#include "embedded_files.hpp"
#include "routes.hpp"

namespace imgbatch::http {

namespace {

constexpr std::string_view kWebFolder = "web/";
constexpr std::string_view kIndex = "web/index.html";
constexpr std::string_view kOpenApi = "docs/openapi.yaml";

// The dashboard loads only its own script and style and calls only this API; the "before"
// thumbnails are the shop's own image URLs, so images may come from anywhere.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src http: https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

std::string_view content_type(std::string_view name) {
  const auto dot = name.rfind('.');
  const auto extension = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  if (extension == "html") return "text/html; charset=utf-8";
  if (extension == "js") return "text/javascript; charset=utf-8";
  if (extension == "css") return "text/css; charset=utf-8";
  if (extension == "svg") return "image/svg+xml";
  if (extension == "png") return "image/png";
  if (extension == "json") return "application/json";
  if (extension == "yaml") return "application/yaml";  // RFC 9512
  return "application/octet-stream";
}

Reply serve(const EmbeddedFile& file, const restinio::request_t& req) {
  Reply reply;
  const std::string etag = "\"" + std::string(file.sha256.substr(0, 32)) + "\"";
  reply.header("ETag", etag);
  reply.header("Cache-Control", "no-cache");
  const auto if_none_match = req.header().opt_value_of(restinio::http_field::if_none_match);
  if (if_none_match &&
      matches_if_none_match(std::string_view(if_none_match->data(), if_none_match->size()), etag)) {
    reply.status = 304;
    return reply;
  }
  reply.status = 200;
  reply.header("Content-Type", std::string(content_type(file.name)));
  reply.header("X-Content-Type-Options", "nosniff");
  if (file.name == kIndex) {
    reply.header("Content-Security-Policy", std::string(kContentSecurityPolicy));
    // The thumbnails load from the shops' hosts: they need not learn this dashboard's URL.
    reply.header("Referrer-Policy", "no-referrer");
  }
  reply.body = std::string(file.content);
  return reply;
}

Route file_route(std::string path, const EmbeddedFile& file) {
  return {restinio::http_method_get(), std::move(path),
          [&file](const restinio::request_t& req, const restinio::router::route_params_t&) {
            return serve(file, req);
          }};
}

}  // namespace

std::vector<Route> web_routes() {
  std::vector<Route> routes;
  for (const auto& file : embedded_files()) {
    if (file.name == kIndex)
      routes.push_back(file_route("/", file));
    else if (file.name == kOpenApi)
      routes.push_back(file_route("/openapi.yaml", file));
    else if (file.name.substr(0, kWebFolder.size()) == kWebFolder)
      routes.push_back(file_route("/" + std::string(file.name), file));
  }
  return routes;
}

}  // namespace imgbatch::http
