// The GET /status body, which is also the webhook payload: one place builds it so the two
// never differ. Output URLs are made from the public URL at the time of rendering, so a
// node behind a load balancer answers with the address clients use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.hpp"

namespace imgbatch::core {

std::string image_url(std::string_view public_url, std::string_view request_id,
                      std::string_view output_name);
std::string output_csv_url(std::string_view public_url, std::string_view request_id);

// `products` is the page [offset, offset + products.size()) of the request's products.
nlohmann::json status_document(const RequestRecord& request,
                               const std::vector<ProductRecord>& products,
                               std::string_view public_url);

// The short form used by GET /requests: no products.
nlohmann::json request_summary(const RequestRecord& request, std::string_view public_url);

}  // namespace imgbatch::core
