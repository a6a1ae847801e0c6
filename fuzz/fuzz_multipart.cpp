// http::parse_upload_form on an arbitrary Content-Type and body. The input is the
// Content-Type, a line feed, then the body (without a line feed, the whole input is the
// body of "multipart/form-data; boundary=B"). Checks: nothing but multipart/form-data is
// taken; an error says why; the file is a view into the body (no copy that could dangle);
// and what was read is what a client meant: writing the fields again with a fresh boundary
// and parsing that gives the same fields.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/multipart.hpp"

namespace imgbatch::fuzz {
namespace {

// A boundary that occurs in none of the values, so that no value can end a part early.
std::string fresh_boundary(const http::UploadForm& form) {
  for (int n = 0;; ++n) {
    const std::string boundary = "fuzz-boundary-" + std::to_string(n);
    auto clear = [&](const auto& value) {
      return !value || std::string_view(*value).find(boundary) == std::string_view::npos;
    };
    if (clear(form.file) && clear(form.webhook_url) && clear(form.quality) && clear(form.format))
      return boundary;
  }
}

std::string write_form(const http::UploadForm& form, const std::string& boundary) {
  std::string body;
  auto part = [&](std::string_view name, const auto& value) {
    if (!value) return;
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
            "\"\r\n\r\n";
    body += std::string_view(*value);
    body += "\r\n";
  };
  part("file", form.file);
  part("webhook_url", form.webhook_url);
  part("quality", form.quality);
  part("format", form.format);
  body += "--" + boundary + "--\r\n";
  return body;
}

template <typename A, typename B>
bool same(const std::optional<A>& a, const std::optional<B>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || std::string_view(*a) == std::string_view(*b);
}

void check_form(std::string_view content_type, std::string_view body) {
  const auto form = http::parse_upload_form(content_type, body);
  if (!form) {
    require(!form.message().empty(), "a rejected form says why");
    return;
  }
  require(http::is_form_data(content_type), "only multipart/form-data is parsed", content_type);
  if (form->file) {
    const char* begin = body.data();
    const char* file = form->file->data();
    require(file >= begin && file + form->file->size() <= begin + body.size(),
            "the file is a view into the body");
  }
  if (!form->file && !form->webhook_url && !form->quality && !form->format) return;

  const std::string boundary = fresh_boundary(*form);
  const std::string rewritten = write_form(*form, boundary);
  const auto again =
      http::parse_upload_form("multipart/form-data; boundary=" + boundary, rewritten);
  require(again.ok(), "a form written again is accepted", rewritten);
  require(same(form->file, again->file) && same(form->webhook_url, again->webhook_url) &&
              same(form->quality, again->quality) && same(form->format, again->format),
          "a form written again reads back to the same fields", rewritten);
}

}  // namespace
}  // namespace imgbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = imgbatch::fuzz::as_text(data, size);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) {
    imgbatch::fuzz::check_form("multipart/form-data; boundary=B", input);
    return 0;
  }
  imgbatch::fuzz::check_form(input.substr(0, newline), input.substr(newline + 1));
  return 0;
}
