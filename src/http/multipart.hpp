// The fields of a POST /upload body (multipart/form-data, RFC 7578): `file` (the CSV
// bytes), and the optional text fields `webhook_url`, `quality`, `format`. Unknown fields
// are ignored so that clients may send more than we read; a known field given twice is an
// error, since either choice would surprise someone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::http {

struct UploadForm {
  std::optional<std::string_view> file;  // a view into the body passed to parse_upload_form
  std::optional<std::string> webhook_url;
  std::optional<std::string> quality;
  std::optional<std::string> format;
  // Output choices (core/output_choices.hpp), as sent.
  std::optional<std::string> target;
  std::optional<std::string> max_bytes;
  std::optional<std::string> never_larger;
  std::optional<std::string> sizes;
  // "true": no reuse of earlier downloads or outputs for this upload (issue 15).
  std::optional<std::string> fresh;
};

// True when `content_type` names multipart/form-data (whatever its parameters); anything
// else is answered 415.
bool is_form_data(std::string_view content_type);

// Errors say what is malformed (no boundary, no parts, a part without a name, …).
core::Result<UploadForm> parse_upload_form(std::string_view content_type, std::string_view body);

}  // namespace imgbatch::http
