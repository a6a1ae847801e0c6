#include "image_links.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace imgbatch {

namespace {

// A time-limited link to the object itself. Made when a document is rendered, so every
// status, output CSV and webhook body hands out links valid for the whole TTL.
class PresignedImageLinks final : public core::ImageLinks {
 public:
  PresignedImageLinks(blob::BlobStore& blobs, std::chrono::seconds ttl,
                      std::string fallback_public_url)
      : blobs_(blobs), ttl_(ttl), fallback_(std::move(fallback_public_url)) {}

  std::string image_url(std::string_view request_id, std::string_view output_name) const override {
    std::string key(request_id);
    key.append("/").append(output_name);
    auto url = blobs_.presigned_url(key, ttl_);
    if (url) return std::move(url.value());
    // Signing is local arithmetic and the storage was checked at start-up, so this is not
    // expected; a working proxy link is better than a broken document.
    spdlog::error("could not presign {}: {}; handing out the proxy URL", key, url.message());
    return fallback_.image_url(request_id, output_name);
  }

 private:
  blob::BlobStore& blobs_;
  std::chrono::seconds ttl_;
  core::ProxyImageLinks fallback_;
};

}  // namespace

std::optional<std::string> image_links_problem(const core::Config& config) {
  if (config.image_urls == "public") {
    if (!config.image_base_url.starts_with("http://") &&
        !config.image_base_url.starts_with("https://"))
      return "--image-urls public needs --image-base-url, an http:// or https:// URL that maps "
             "to the storage's root (e.g. https://cdn.example.com/images)";
  } else if (!config.image_base_url.empty()) {
    return "--image-base-url is used only with --image-urls public (now " + config.image_urls + ")";
  }
  if (config.image_urls == "presigned" && !config.storage.starts_with("s3://"))
    return "--image-urls presigned needs s3:// storage (now " + config.storage +
           "): only an object store can check a signed link";
  return std::nullopt;
}

std::shared_ptr<const core::ImageLinks> make_image_links(const core::Config& config,
                                                         blob::BlobStore& blobs) {
  if (config.image_urls == "public")
    return std::make_shared<core::BaseUrlImageLinks>(config.image_base_url);
  if (config.image_urls == "presigned")
    return std::make_shared<PresignedImageLinks>(
        blobs, std::chrono::seconds(config.presign_ttl_seconds), config.effective_public_url());
  return std::make_shared<core::ProxyImageLinks>(config.effective_public_url());
}

}  // namespace imgbatch
