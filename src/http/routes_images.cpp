// GET /images/ID/NAME: a stored image. Images never change once written (a repeated task
// writes the same bytes), so they are cached for a year and revalidated by ETag, the tag
// the blob store recorded with the image.

#include "blob/content_type.hpp"
#include "core/ids.hpp"
#include "problem.hpp"
#include "routes.hpp"

namespace imgbatch::http {

namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// NAME is "<product>-<image>.<ext>", exactly what the pipeline writes; the content type
// of that extension, or nullopt for any other name.
std::optional<std::string_view> image_content_type(std::string_view name) {
  const auto dash = name.find('-');
  const auto dot = name.rfind('.');
  if (dash == std::string_view::npos || dot == std::string_view::npos || dot < dash)
    return std::nullopt;
  if (!all_digits(name.substr(0, dash)) || !all_digits(name.substr(dash + 1, dot - dash - 1)))
    return std::nullopt;
  return blob::image_content_type(name);
}

// The headers a 200 and a 304 share (RFC 9110 asks a 304 for the ETag and Cache-Control
// that a 200 would have sent).
Reply cacheable(int status, std::string etag) {
  Reply reply;
  reply.status = status;
  reply.header("ETag", std::move(etag));
  reply.header("Cache-Control", "public, max-age=31536000, immutable");
  return reply;
}

Reply not_found(std::string_view id, std::string_view name) {
  return problem(404, "no image " + std::string(name) + " in request " + std::string(id));
}

Reply image(const Deps& deps, const restinio::request_t& req,
            const restinio::router::route_params_t& params) {
  const std::string_view id(params["id"].data(), params["id"].size());
  const std::string_view name(params["name"].data(), params["name"].size());
  const auto content_type = image_content_type(name);
  if (!core::is_uuid(id) || !content_type) return not_found(id, name);
  const std::string key = std::string(id) + "/" + std::string(name);
  if (!blob::is_safe_key(key)) return not_found(id, name);

  // The tag was recorded when the image was stored: a revalidation reads no image bytes.
  const auto if_none_match = req.header().opt_value_of(restinio::http_field::if_none_match);
  if (if_none_match) {
    auto etag = deps.blob.etag(key);
    if (!etag) return not_found(id, name);
    const std::string quoted = "\"" + *etag + "\"";
    if (matches_if_none_match(std::string_view(if_none_match->data(), if_none_match->size()),
                              quoted))
      return cacheable(304, quoted);
  }

  // The body is sent from memory, not with sendfile(2): RESTinio 0.6 leaks the connection
  // (and with it the router) when a client goes away in the middle of a sendfile, which
  // LeakSanitizer caught; a compressed image is small enough to read whole.
  auto object = deps.blob.get(key);
  if (!object) return not_found(id, name);
  Reply reply = cacheable(200, "\"" + object->etag + "\"");
  reply.body = std::move(object->bytes);
  reply.header("Content-Type", std::string(*content_type));
  reply.header("X-Content-Type-Options", "nosniff");
  return reply;
}

}  // namespace

std::vector<Route> image_routes(const Deps& deps) {
  return {{restinio::http_method_get(), "/images/:id/:name",
           [&deps](const restinio::request_t& req, const restinio::router::route_params_t& params) {
             return image(deps, req, params);
           }}};
}

}  // namespace imgbatch::http
