// The image links of --image-urls (core/image_links.hpp), checked against the storage and
// made once at start-up for the HTTP server and the webhook dispatcher to share.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/image_links.hpp"

namespace imgbatch {

// What is wrong with the --image-urls options taken together (a usage error: exit status
// 2), or nullopt. public needs an http(s) --image-base-url; presigned needs s3:// storage.
std::optional<std::string> image_links_problem(const core::Config& config);

// The links for a config that image_links_problem accepted. Presigned links are made by
// `blobs`, which must outlive them.
std::shared_ptr<const core::ImageLinks> make_image_links(const core::Config& config,
                                                         blob::BlobStore& blobs);

}  // namespace imgbatch
