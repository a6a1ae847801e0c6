#include "failure_reason.hpp"

namespace imgbatch::pipeline {

namespace {

using metrics::FailureReason;

bool starts(std::string_view text, std::string_view prefix) { return text.starts_with(prefix); }
bool has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

FailureReason download_failure_reason(std::string_view e) {
  if (starts(e, "download failed: HTTP ")) return FailureReason::download_http_status;
  if (starts(e, "image too large")) return FailureReason::too_large;
  if (starts(e, "blocked address")) return FailureReason::blocked_address;
  if (starts(e, "download too slow") || starts(e, "download timed out") ||
      starts(e, "connection timed out") ||
      (starts(e, "could not resolve host") && has(e, "(timed out)")))
    return FailureReason::download_timeout;
  if (starts(e, "could not resolve host") || starts(e, "connection failed") ||
      starts(e, "download cut short") || starts(e, "secure connection refused") ||
      starts(e, "download failed: no HTTP response"))
    return FailureReason::download_connection;
  if (starts(e, "too many redirects") || starts(e, "unsupported URL scheme") ||
      starts(e, "invalid URL"))
    return FailureReason::bad_url;
  return FailureReason::other;
}

FailureReason image_failure_reason(std::string_view e) {
  if (starts(e, "not an image") || starts(e, "unsupported image format"))
    return FailureReason::not_an_image;
  if (starts(e, "too many pixels")) return FailureReason::too_many_pixels;
  if (starts(e, "corrupt or truncated image") || starts(e, "cannot decode"))
    return FailureReason::corrupt_image;
  if (starts(e, "image too large for") || starts(e, "AVIF output is not available") ||
      starts(e, "unsupported colour space") || starts(e, "cannot convert") ||
      starts(e, "cannot flatten") || starts(e, "cannot apply"))
    return FailureReason::cannot_convert;
  return FailureReason::other;
}

}  // namespace imgbatch::pipeline
