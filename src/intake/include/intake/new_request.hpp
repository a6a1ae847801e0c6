// From an accepted CSV to the request the Store creates. POST /upload and `imgbatch
// process` both come this way, so an upload is parsed with the same limits and
// fingerprinted the same way whichever door it came in by.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"
#include "csv/csv.hpp"

namespace imgbatch::intake {

// What the uploader chose besides the CSV itself.
struct UploadSettings {
  std::optional<std::string> webhook_url;
  int quality = 0;
  core::ImageFormat format = core::ImageFormat::jpeg;
  core::OutputChoices choices;
};

// The CSV limits for a configured maximum row count (negative counts as 0).
csv::ParseLimits parse_limits(std::int64_t max_rows);

// Tells a retried upload (same Idempotency-Key, same content) from a different one under
// the same key: a hex SHA-256 over the CSV bytes and the settings, each framed by its
// length so that no two different uploads can produce the same byte stream.
std::string upload_fingerprint(std::string_view csv_bytes, const UploadSettings& settings);

// The request to create for an accepted CSV, stamped with the current time.
core::NewRequest new_request(std::string id, csv::ParsedCsv parsed, const UploadSettings& settings,
                             std::string fingerprint, std::optional<std::string> idempotency_key);

}  // namespace imgbatch::intake
