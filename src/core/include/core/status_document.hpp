// The GET /status body, which is also the webhook payload: one place builds it so the two
// never differ. Output URLs are made at the time of rendering (the public URL, and the
// image links of --image-urls), so a node behind a load balancer answers with the address
// clients use and a presigned link is fresh.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/image_links.hpp"
#include "core/types.hpp"

namespace imgbatch::core {

std::string output_csv_url(std::string_view public_url, std::string_view request_id);

// `products` is the page [offset, offset + products.size()) of the request's products.
// `public_url` makes the output CSV's URL; `links` the images'.
nlohmann::json status_document(const RequestRecord& request,
                               const std::vector<ProductRecord>& products,
                               std::string_view public_url, const ImageLinks& links);

// The short form used by GET /requests: no products.
nlohmann::json request_summary(const RequestRecord& request, std::string_view public_url);

}  // namespace imgbatch::core
