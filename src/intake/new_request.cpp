#include "intake/new_request.hpp"

#include <algorithm>
#include <utility>

#include "core/types.hpp"

namespace imgbatch::intake {

csv::ParseLimits parse_limits(std::int64_t max_rows) {
  csv::ParseLimits limits;
  limits.max_rows = static_cast<std::size_t>(std::max<std::int64_t>(max_rows, 0));
  return limits;
}

core::NewRequest new_request(std::string id, csv::ParsedCsv parsed, const UploadSettings& settings,
                             std::string fingerprint, std::optional<std::string> idempotency_key) {
  core::NewRequest request;
  request.id = std::move(id);
  request.columns = std::move(parsed.columns);
  request.products = std::move(parsed.products);
  request.webhook_url = settings.webhook_url;
  request.quality = settings.quality;
  request.format = settings.format;
  request.choices = settings.choices;
  request.idempotency_key = std::move(idempotency_key);
  request.fingerprint = std::move(fingerprint);
  request.created_at = core::now_ms();
  return request;
}

}  // namespace imgbatch::intake
