// GET /images/ID/NAME: a stored image. Images never change once written (a repeated task
// writes the same bytes), so they are cached for a year and revalidated by ETag, the tag
// the blob store recorded with the image. The route is `blocking`: with an object store
// behind it, each answer waits on the network (see blocking_pool.hpp).

#include <charconv>

#include <spdlog/spdlog.h>

#include "blob/content_type.hpp"
#include "core/ids.hpp"
#include "core/output_choices.hpp"
#include "problem.hpp"
#include "routes.hpp"

namespace imgbatch::http {

namespace {

std::string_view extension_of(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// NAME is "<product>-<image>.<ext>" or, for a size, "<product>-<image>-<size>.<ext>"
// (core::sized_output_name), exactly what the pipeline writes; the content type of that
// extension, or nullopt for any other name.
std::optional<std::string_view> image_content_type(std::string_view name) {
  const auto dash = name.find('-');
  const auto dot = name.rfind('.');
  if (dash == std::string_view::npos || dot == std::string_view::npos || dot < dash)
    return std::nullopt;
  std::string_view image = name.substr(dash + 1, dot - dash - 1);
  if (const auto size_dash = image.find('-'); size_dash != std::string_view::npos) {
    if (!core::valid_size_name(image.substr(size_dash + 1))) return std::nullopt;
    image = image.substr(0, size_dash);
  }
  if (!all_digits(name.substr(0, dash)) || !all_digits(image)) return std::nullopt;
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

// Only a missing image is a 404: a storage that cannot answer says nothing about the
// image, and a client (or CDN) told 404 would stop asking for one that exists.
Reply read_failure(const blob::BlobError& error, std::string_view id, std::string_view name) {
  if (error.kind == blob::BlobError::Kind::not_found) return not_found(id, name);
  spdlog::warn("image {}/{} not served: {}", id, name, error.message);
  Reply reply = problem(503, "the image storage is not answering; try again shortly");
  reply.header("Retry-After", "5");
  return reply;
}

// The key of an image a request shares with others (docs/architecture.md, "Shared sources
// and outputs"): NAME (a valid image name, see image_content_type) is the request's own,
// but the image is stored under the key of the task that made it, which the store keeps.
// None when the image is not shared (or not done, or the request is not there).
std::optional<std::string> shared_key(const Deps& deps, std::string_view id,
                                      std::string_view name) {
  const auto dash = name.find('-');
  const auto dot = name.rfind('.');
  std::string_view image = name.substr(dash + 1, dot - dash - 1);
  std::string_view size;
  if (const auto size_dash = image.find('-'); size_dash != std::string_view::npos) {
    size = image.substr(size_dash + 1);
    image = image.substr(0, size_dash);
  }
  int product_index = 0;
  int image_index = 0;
  const std::string_view product = name.substr(0, dash);
  if (std::from_chars(product.data(), product.data() + product.size(), product_index).ec !=
          std::errc() ||
      std::from_chars(image.data(), image.data() + image.size(), image_index).ec != std::errc())
    return std::nullopt;  // out of range
  auto key = deps.store.image_key(std::string(id), product_index, image_index);
  const std::string own = std::string(id) + "/" + std::string(name);
  if (!key || !blob::is_safe_key(*key)) return std::nullopt;
  // The extension must match: a name with another one is not this image.
  if (extension_of(*key) != extension_of(name)) return std::nullopt;
  std::string stored = size.empty() ? *key : core::sized_output_name(*key, size);
  if (stored == own) return std::nullopt;  // its own: not found is not found
  return stored;
}

Reply with_content_headers(Reply reply, std::string_view content_type) {
  reply.header("Content-Type", std::string(content_type));
  reply.header("X-Content-Type-Options", "nosniff");
  return reply;
}

Reply image(const Deps& deps, const restinio::request_t& req,
            const restinio::router::route_params_t& params) {
  const std::string_view id(params["id"].data(), params["id"].size());
  const std::string_view name(params["name"].data(), params["name"].size());
  const auto content_type = image_content_type(name);
  if (!core::is_uuid(id) || !content_type) return not_found(id, name);
  std::string key = std::string(id) + "/" + std::string(name);
  if (!blob::is_safe_key(key)) return not_found(id, name);
  // Not under its own name: a shared image, stored under another task's key. Asked only
  // then, so an image of its own costs no database read.
  const auto elsewhere = [&](const blob::BlobError& error) {
    if (error.kind != blob::BlobError::Kind::not_found) return false;
    auto shared = shared_key(deps, id, name);
    if (!shared) return false;
    key = std::move(*shared);
    return true;
  };

  // The tag was recorded when the image was stored: a revalidation or a HEAD reads no
  // image bytes (from an object store, a HEAD of the object instead of a GET).
  const auto if_none_match = req.header().opt_value_of(restinio::http_field::if_none_match);
  const bool head = req.header().method() == restinio::http_method_head();
  if (if_none_match || head) {
    auto info = deps.blob.stat(key);
    if (!info && elsewhere(info.error())) info = deps.blob.stat(key);
    if (!info) return read_failure(info.error(), id, name);
    const std::string quoted = "\"" + info->etag + "\"";
    if (if_none_match &&
        matches_if_none_match(std::string_view(if_none_match->data(), if_none_match->size()),
                              quoted))
      return cacheable(304, quoted);
    if (head) {
      Reply reply = with_content_headers(cacheable(200, quoted), *content_type);
      reply.head_content_length = static_cast<std::size_t>(info->size);
      return reply;
    }
  }

  // The body is sent from memory, not with sendfile(2): RESTinio 0.6 leaks the connection
  // (and with it the router) when a client goes away in the middle of a sendfile, which
  // LeakSanitizer caught; a compressed image is small enough to read whole.
  auto object = deps.blob.get(key);
  if (!object && elsewhere(object.error())) object = deps.blob.get(key);
  if (!object) return read_failure(object.error(), id, name);
  Reply reply = with_content_headers(cacheable(200, "\"" + object->etag + "\""), *content_type);
  reply.body = std::move(object->bytes);
  return reply;
}

}  // namespace

std::vector<Route> image_routes(const Deps& deps) {
  return {{restinio::http_method_get(), "/images/:id/:name",
           [&deps](const restinio::request_t& req, const restinio::router::route_params_t& params) {
             return image(deps, req, params);
           },
           Access::open, /*blocking=*/true}};
}

}  // namespace imgbatch::http
