#include "core/image_links.hpp"

#include <utility>

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

ProxyImageLinks::ProxyImageLinks(std::string public_url)
    : public_url_(without_trailing_slashes(std::move(public_url)) + "/images") {}

std::string ProxyImageLinks::image_url(std::string_view request_id,
                                       std::string_view output_name) const {
  return join(public_url_, request_id, output_name);
}

BaseUrlImageLinks::BaseUrlImageLinks(std::string base_url)
    : base_url_(without_trailing_slashes(std::move(base_url))) {}

std::string BaseUrlImageLinks::image_url(std::string_view request_id,
                                         std::string_view output_name) const {
  return join(base_url_, request_id, output_name);
}

}  // namespace imgbatch::core
