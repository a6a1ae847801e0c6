#include "multipart.hpp"

#include <restinio/helpers/http_field_parsers/content-disposition.hpp>
#include <restinio/helpers/http_field_parsers/content-type.hpp>
#include <restinio/helpers/multipart_body.hpp>
#include <restinio/impl/string_caseless_compare.hpp>

namespace imgbatch::http {

namespace hfp = restinio::http_field_parsers;
namespace mp = restinio::multipart_body;
using restinio::impl::is_equal_caseless;

namespace {

bool is_form_data_type(const hfp::content_type_value_t& value) {
  return is_equal_caseless(value.media_type.type, "multipart") &&
         is_equal_caseless(value.media_type.subtype, "form-data");
}

// Stores a text field, refusing a second copy of it.
core::Status set_once(std::optional<std::string>& slot, std::string_view name,
                      std::string_view value) {
  if (slot) return core::make_error("form field '" + std::string(name) + "' is given twice");
  slot = std::string(value);
  return core::ok_status();
}

}  // namespace

bool is_form_data(std::string_view content_type) {
  const auto parsed = hfp::content_type_value_t::try_parse(content_type);
  return parsed && is_form_data_type(*parsed);
}

core::Result<UploadForm> parse_upload_form(std::string_view content_type, std::string_view body) {
  const auto parsed = hfp::content_type_value_t::try_parse(content_type);
  if (!parsed || !is_form_data_type(*parsed))
    return core::make_error("the body must be multipart/form-data");
  const auto boundary = hfp::find_first(parsed->media_type.parameters, "boundary");
  if (!boundary)
    return core::make_error("the Content-Type multipart/form-data has no boundary parameter");
  if (mp::check_boundary_value(*boundary))
    return core::make_error(
        "the multipart boundary is not valid (RFC 2046: 1 to 70 "
        "characters of a restricted set)");

  const std::string delimiter = "--" + std::string(*boundary);
  const auto parts = mp::split_multipart_body(body, delimiter);
  if (parts.empty())
    return core::make_error(
        "the multipart body has no parts: each part must start with "
        "--BOUNDARY and the body must end with --BOUNDARY--");

  UploadForm form;
  for (const auto raw : parts) {
    auto part = mp::try_parse_part(raw);
    if (!part) return core::make_error("a multipart part has malformed headers");
    const auto disposition = part->fields.opt_value_of(restinio::http_field::content_disposition);
    if (!disposition) return core::make_error("a multipart part has no Content-Disposition header");
    const auto value = hfp::content_disposition_value_t::try_parse(*disposition);
    if (!value || !is_equal_caseless(value->value, "form-data"))
      return core::make_error("a multipart part's Content-Disposition is not form-data; name=…");
    const auto name_param = hfp::find_first(value->parameters, "name");
    if (!name_param) return core::make_error("a multipart part has no name");
    const std::string_view name(name_param->data(), name_param->size());
    const std::string_view content(part->body.data(), part->body.size());

    core::Status stored = core::ok_status();
    if (name == "file") {
      if (form.file) return core::make_error("form field 'file' is given twice");
      form.file = content;
    } else if (name == "webhook_url") {
      stored = set_once(form.webhook_url, name, content);
    } else if (name == "quality") {
      stored = set_once(form.quality, name, content);
    } else if (name == "format") {
      stored = set_once(form.format, name, content);
    } else if (name == "target") {
      stored = set_once(form.target, name, content);
    } else if (name == "max_bytes") {
      stored = set_once(form.max_bytes, name, content);
    } else if (name == "never_larger") {
      stored = set_once(form.never_larger, name, content);
    } else if (name == "sizes") {
      stored = set_once(form.sizes, name, content);
    } else if (name == "fresh") {
      stored = set_once(form.fresh, name, content);
    }
    if (!stored) return stored.error();
  }
  return form;
}

}  // namespace imgbatch::http
