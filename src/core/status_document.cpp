#include "core/status_document.hpp"

#include <cstdio>

namespace imgbatch::core {

std::string output_csv_url(std::string_view public_url, std::string_view request_id) {
  std::string url(public_url);
  url.append("/requests/").append(request_id).append("/output.csv");
  return url;
}

namespace {
// What the request asked of its outputs (docs/API.md, "Output choices").
nlohmann::json output_settings_json(const RequestRecord& request) {
  const OutputChoices& choices = request.choices;
  nlohmann::json settings = {{"format", to_string(request.format)}};
  if (choices.quality_target) {
    settings["quality"] = "auto";
    settings["target"] = *choices.quality_target;
  } else {
    settings["quality"] = request.quality;
  }
  if (choices.max_bytes > 0) settings["max_bytes"] = choices.max_bytes;
  // The floor acts only on a search (auto, or a cap): shown where it decided something.
  if (choices.quality_target || choices.max_bytes > 0)
    settings["min_quality"] = choices.min_quality;
  settings["never_larger"] = choices.never_larger;
  nlohmann::json sizes = nlohmann::json::array();
  for (const auto& size : choices.sizes)
    sizes.push_back({{"name", size.name}, {"width", size.width}, {"height", size.height}});
  settings["sizes"] = std::move(sizes);
  return settings;
}

// The stored image's format, from its name's extension ("0-1.webp").
std::string format_of(const std::string& output_name) {
  const auto extension = output_name.substr(output_name.rfind('.') + 1);
  return extension == "jpg" ? "jpeg" : extension;
}

// A done image's size `size`, where clients fetch it.
std::string size_url(const RequestRecord& request, const ImageRecord& image, const OutputSize& size,
                     const ImageLinks& links) {
  return done_image_url(links, request.id, image, size.name);
}

// Of a done image (output_name set).
nlohmann::json report_json(const ImageRecord& image) {
  const ImageReport& report = image.report;
  return {{"format", format_of(*image.output_name)},
          {"quality", report.quality ? nlohmann::json(*report.quality) : nlohmann::json()},
          {"score", report.score ? nlohmann::json(*report.score) : nlohmann::json()},
          {"bytes_in", image.bytes_in},
          {"bytes_out", image.bytes_out},
          {"kept", report.kept},
          // Why its output was not made for it (issue 15): "304", "same-bytes", "duplicate".
          {"reused", image.reused == Reuse::none ? nlohmann::json()
                                                 : nlohmann::json(to_string(image.reused))}};
}

nlohmann::json progress_json(const Progress& p) {
  return {{"total", p.total},
          {"succeeded", p.succeeded},
          {"failed", p.failed},
          {"remaining", p.remaining()},
          {"reused", p.reused}};
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
  doc["output_settings"] = output_settings_json(request);
  const auto& sizes = request.choices.sizes;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& product : products) {
    nlohmann::json inputs = nlohmann::json::array();
    nlohmann::json outputs = nlohmann::json::array();
    nlohmann::json input_bytes = nlohmann::json::array();
    nlohmann::json output_bytes = nlohmann::json::array();
    nlohmann::json errors = nlohmann::json::array();
    nlohmann::json reports = nlohmann::json::array();
    nlohmann::json sized = nlohmann::json::object();
    for (const auto& size : sizes) sized[size.name] = nlohmann::json::array();
    for (const auto& image : product.images) {
      inputs.push_back(image.source_url);
      if (image.state == TaskState::done && image.output_name) {
        outputs.push_back(done_image_url(links, request.id, image));
        input_bytes.push_back(image.bytes_in);
        output_bytes.push_back(image.bytes_out);
        reports.push_back(report_json(image));
        for (const auto& size : sizes)
          sized[size.name].push_back(size_url(request, image, size, links));
      } else {
        outputs.push_back(nullptr);
        input_bytes.push_back(nullptr);
        output_bytes.push_back(nullptr);
        reports.push_back(nullptr);
        for (const auto& size : sizes) sized[size.name].push_back(nullptr);
      }
      if (image.state == TaskState::failed)
        errors.push_back({{"index", image.index},
                          {"url", image.source_url},
                          {"message", image.error.value_or("failed")},
                          {"attempts", image.attempts}});
    }
    nlohmann::json entry = {{"serial_number", product.serial_number},
                            {"product_name", product.product_name},
                            {"input_image_urls", std::move(inputs)},
                            {"output_image_urls", std::move(outputs)},
                            // Sizes beside the URLs (null until done), for savings figures.
                            {"input_image_bytes", std::move(input_bytes)},
                            {"output_image_bytes", std::move(output_bytes)},
                            {"output_image_reports", std::move(reports)},
                            {"errors", std::move(errors)}};
    if (!sizes.empty()) entry["sizes"] = std::move(sized);
    list.push_back(std::move(entry));
  }
  doc["products"] = std::move(list);
  return doc;
}

namespace {
bool has_extra_columns(const RequestRecord& request) {
  const OutputChoices& choices = request.choices;
  return choices.quality_target || choices.max_bytes > 0 || !choices.sizes.empty();
}

std::string report_item(const ImageRecord& image) {
  std::string item;
  if (image.report.quality)
    item = "q=" + std::to_string(*image.report.quality);
  else if (image.report.kept)
    item = "kept";
  if (image.report.score) {
    char score[32];
    std::snprintf(score, sizeof score, ";ssim=%.4f", *image.report.score);
    item += score;
  }
  item += ";in=" + std::to_string(image.bytes_in) + ";out=" + std::to_string(image.bytes_out);
  return item;
}
}  // namespace

std::vector<std::string> extra_csv_headers(const RequestRecord& request) {
  std::vector<std::string> headers;
  if (!has_extra_columns(request)) return headers;
  for (const auto& size : request.choices.sizes) headers.push_back(size.name + " Image Urls");
  headers.emplace_back("Output Image Report");
  return headers;
}

std::vector<std::vector<std::string>> extra_csv_items(const RequestRecord& request,
                                                      const ProductRecord& product,
                                                      const ImageLinks& links) {
  std::vector<std::vector<std::string>> columns;
  if (!has_extra_columns(request)) return columns;
  const auto& sizes = request.choices.sizes;
  columns.resize(sizes.size() + 1);
  for (const auto& image : product.images) {
    const bool done = image.state == TaskState::done && image.output_name;
    for (std::size_t s = 0; s < sizes.size(); ++s)
      columns[s].push_back(done ? size_url(request, image, sizes[s], links) : "");
    columns.back().push_back(done ? report_item(image) : "");
  }
  return columns;
}

}  // namespace imgbatch::core
