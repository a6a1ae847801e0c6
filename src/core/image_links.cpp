#include "core/image_links.hpp"

#include <utility>

#include "core/types.hpp"

namespace imgbatch::core {

namespace {

std::string join(std::string_view base, std::string_view request_id, std::string_view output_name) {
  std::string url;
  url.reserve(base.size() + request_id.size() + output_name.size() + 2);
  url.append(base).append("/").append(request_id).append("/").append(output_name);
  return url;
}

std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::string ImageLinks::stored_image_url(std::string_view, std::string_view,
                                         std::string_view stored_key) const {
  const auto slash = stored_key.rfind('/');
  if (slash == std::string_view::npos) return image_url("", stored_key);
  return image_url(stored_key.substr(0, slash), stored_key.substr(slash + 1));
}

std::string done_image_url(const ImageLinks& links, std::string_view request_id,
                           const ImageRecord& image, std::string_view size) {
  const std::string name =
      size.empty() ? *image.output_name : sized_output_name(*image.output_name, size);
  const std::string own = std::string(request_id) + "/" + *image.output_name;
  if (!image.blob_key || *image.blob_key == own) return links.image_url(request_id, name);
  return links.stored_image_url(
      request_id, name, size.empty() ? *image.blob_key : sized_output_name(*image.blob_key, size));
}

ProxyImageLinks::ProxyImageLinks(std::string public_url)
    : public_url_(without_trailing_slashes(std::move(public_url)) + "/images") {}

std::string ProxyImageLinks::image_url(std::string_view request_id,
                                       std::string_view output_name) const {
  return join(public_url_, request_id, output_name);
}

std::string ProxyImageLinks::stored_image_url(std::string_view request_id,
                                              std::string_view output_name,
                                              std::string_view) const {
  return image_url(request_id, output_name);
}

BaseUrlImageLinks::BaseUrlImageLinks(std::string base_url)
    : base_url_(without_trailing_slashes(std::move(base_url))) {}

std::string BaseUrlImageLinks::image_url(std::string_view request_id,
                                         std::string_view output_name) const {
  return join(base_url_, request_id, output_name);
}

}  // namespace imgbatch::core
