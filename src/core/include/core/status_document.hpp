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

// The output CSV's columns after "Output Image Urls" (docs/API.md, "Output CSV"): one per
// size ("thumb Image Urls"), then "Output Image Report", for a request that chose
// quality=auto, max_bytes or sizes; none for one that did not, so that its CSV keeps the
// shape clients had before those existed.
std::vector<std::string> extra_csv_headers(const RequestRecord& request);
// One product's items for those columns, each aligned with its images ("" for an image
// that is not done). A report item reads "q=41;ssim=0.9213;in=812345;out=45678", or
// "kept;in=…;out=…" for a source kept as it was.
std::vector<std::vector<std::string>> extra_csv_items(const RequestRecord& request,
                                                      const ProductRecord& product,
                                                      const ImageLinks& links);

// The short form used by GET /requests: no products.
nlohmann::json request_summary(const RequestRecord& request, std::string_view public_url);

}  // namespace imgbatch::core
