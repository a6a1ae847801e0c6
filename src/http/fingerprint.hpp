// The fingerprint of an upload: tells a retried upload (same Idempotency-Key, same
// content) from a different one under the same key. A hex SHA-256 over the CSV bytes and
// the effective options, each framed by its length so that no two different uploads can
// produce the same byte stream.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace imgbatch::http {

struct UploadIdentity {
  std::string_view file;
  std::optional<std::string_view> webhook_url;
  int quality = 0;
  core::ImageFormat format = core::ImageFormat::jpeg;
};

std::string upload_fingerprint(const UploadIdentity& upload);

}  // namespace imgbatch::http
