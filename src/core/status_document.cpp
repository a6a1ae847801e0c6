#include "core/status_document.hpp"

namespace imgbatch::core {

std::string output_csv_url(std::string_view public_url, std::string_view request_id) {
  std::string url(public_url);
  url.append("/requests/").append(request_id).append("/output.csv");
  return url;
}

namespace {
nlohmann::json progress_json(const Progress& p) {
  return {{"total", p.total},
          {"succeeded", p.succeeded},
          {"failed", p.failed},
          {"remaining", p.remaining()}};
}
}  // namespace

nlohmann::json request_summary(const RequestRecord& request, std::string_view public_url) {
  nlohmann::json doc = {{"request_id", request.id},
                        {"status", to_string(request.status)},
                        {"created_at", format_iso8601(request.created_at)},
                        {"updated_at", format_iso8601(request.updated_at)},
                        {"progress", progress_json(request.progress)},
                        {"products_total", request.products_total},
                        {"output_csv_url", output_csv_url(public_url, request.id)}};
  if (request.failure_reason) doc["failure_reason"] = *request.failure_reason;
  return doc;
}

nlohmann::json status_document(const RequestRecord& request,
                               const std::vector<ProductRecord>& products,
                               std::string_view public_url, const ImageLinks& links) {
  nlohmann::json doc = request_summary(request, public_url);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& product : products) {
    nlohmann::json inputs = nlohmann::json::array();
    nlohmann::json outputs = nlohmann::json::array();
    nlohmann::json input_bytes = nlohmann::json::array();
    nlohmann::json output_bytes = nlohmann::json::array();
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& image : product.images) {
      inputs.push_back(image.source_url);
      if (image.state == TaskState::done && image.output_name) {
        outputs.push_back(links.image_url(request.id, *image.output_name));
        input_bytes.push_back(image.bytes_in);
        output_bytes.push_back(image.bytes_out);
      } else {
        outputs.push_back(nullptr);
        input_bytes.push_back(nullptr);
        output_bytes.push_back(nullptr);
      }
      if (image.state == TaskState::failed)
        errors.push_back({{"index", image.index},
                          {"url", image.source_url},
                          {"message", image.error.value_or("failed")},
                          {"attempts", image.attempts}});
    }
    list.push_back({{"serial_number", product.serial_number},
                    {"product_name", product.product_name},
                    {"input_image_urls", std::move(inputs)},
                    {"output_image_urls", std::move(outputs)},
                    // Sizes beside the URLs (null until done), for savings figures.
                    {"input_image_bytes", std::move(input_bytes)},
                    {"output_image_bytes", std::move(output_bytes)},
                    {"errors", std::move(errors)}});
  }
  doc["products"] = std::move(list);
  return doc;
}

}  // namespace imgbatch::core
