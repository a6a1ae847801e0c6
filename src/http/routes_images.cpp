// GET /images/ID/NAME: a stored image. Images never change once written (a repeated task
// writes the same bytes), so they are cached for a year and revalidated by ETag.

#include <array>
#include <cstdint>

#include "core/ids.hpp"
#include "problem.hpp"
#include "routes.hpp"

namespace imgbatch::http {

namespace {

struct ImageType {
  std::string_view extension;
  std::string_view content_type;
};
constexpr std::array<ImageType, 4> kImageTypes{{{"jpg", "image/jpeg"},
                                                {"webp", "image/webp"},
                                                {"avif", "image/avif"},
                                                {"png", "image/png"}}};

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
  const auto extension = name.substr(dot + 1);
  for (const auto& type : kImageTypes)
    if (type.extension == extension) return type.content_type;
  return std::nullopt;
}

// FNV-1a: stable across builds and machines, unlike std::hash.
class Fnv1a {
 public:
  Fnv1a& add(std::string_view bytes) {
    for (const unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  Fnv1a& add(std::uint64_t n) { return add(std::to_string(n)).add("|"); }
  std::string etag() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string tag = "\"";
    for (int shift = 60; shift >= 0; shift -= 4) tag.push_back(kDigits[(hash_ >> shift) & 0xf]);
    tag.push_back('"');
    return tag;
  }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

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

  // The body is sent from memory, not with sendfile(2): RESTinio 0.6 leaks the connection
  // (and with it the router) when a client goes away in the middle of a sendfile, which
  // LeakSanitizer caught; a compressed image is small enough to read whole.
  Reply reply;
  auto bytes = deps.blob.get(key);
  if (!bytes) return not_found(id, name);
  const std::string etag = Fnv1a().add(*bytes).etag();
  reply.body = std::move(*bytes);

  reply.header("ETag", etag);
  reply.header("Cache-Control", "public, max-age=31536000, immutable");
  const auto if_none_match = req.header().opt_value_of(restinio::http_field::if_none_match);
  if (if_none_match &&
      matches_if_none_match(std::string_view(if_none_match->data(), if_none_match->size()),
                            etag)) {
    reply.status = 304;
    reply.body.clear();
    return reply;
  }
  reply.status = 200;
  reply.header("Content-Type", std::string(*content_type));
  reply.header("X-Content-Type-Options", "nosniff");
  return reply;
}

}  // namespace

std::vector<Route> image_routes(const Deps& deps) {
  return {{restinio::http_method_get(), "/images/:id/:name",
           [&deps](const restinio::request_t& req,
                   const restinio::router::route_params_t& params) {
             return image(deps, req, params);
           }}};
}

}  // namespace imgbatch::http
