#include "intake/source_key.hpp"

#include <curl/curl.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "core/output_choices.hpp"
#include "core/sha256.hpp"

namespace imgbatch::intake {

namespace {

using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

// A part of a parsed URL, or "" when it has none.
std::string part(CURLU* url, CURLUPart which, unsigned flags = 0) {
  char* text = nullptr;
  if (curl_url_get(url, which, &text, flags) != CURLUE_OK || text == nullptr) return {};
  std::string value(text);
  curl_free(text);
  return value;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A field framed by its 8-byte length, so that no two different lists make the same bytes.
void frame(std::string& out, std::string_view field) {
  auto size = static_cast<std::uint64_t>(field.size());
  for (int i = 0; i < 8; ++i, size >>= 8) out.push_back(static_cast<char>(size & 0xff));
  out.append(field);
}

}  // namespace

std::string normalised_url(std::string_view url) {
  UrlHandle handle(curl_url(), &curl_url_cleanup);
  const std::string given(url);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, given.c_str(), 0) != CURLUE_OK)
    return given;
  curl_url_set(handle.get(), CURLUPART_FRAGMENT, nullptr, 0);
  const std::string host = lower(part(handle.get(), CURLUPART_HOST));
  if (!host.empty()) curl_url_set(handle.get(), CURLUPART_HOST, host.c_str(), 0);
  // The scheme comes back in lower case; the port only when it is not the scheme's own.
  std::string normal = part(handle.get(), CURLUPART_URL, CURLU_NO_DEFAULT_PORT);
  return normal.empty() ? given : normal;
}

std::string source_key(std::string_view scope, std::string_view url,
                       const core::NewRequest& request) {
  const core::OutputChoices& choices = request.choices;
  std::string fields;
  frame(fields, "imgbatch source 2");  // a new meaning of the fields gets a new tag
  frame(fields, scope);
  frame(fields, normalised_url(url));
  frame(fields, std::to_string(request.quality));
  frame(fields, core::to_string(request.format));
  // The target exactly, as the store keeps it (17 significant digits).
  std::array<char, 32> target{};
  if (choices.quality_target)
    std::snprintf(target.data(), target.size(), "%.17g", *choices.quality_target);
  frame(fields, target.data());
  frame(fields, std::to_string(choices.max_bytes));
  frame(fields, choices.never_larger ? "1" : "0");
  frame(fields, core::format_output_sizes(choices.sizes));
  // Since tag 2: the floor of max_bytes and quality=auto (an output made at another floor
  // may differ). Keys of tag 1 named outputs made at whatever floor their worker had.
  frame(fields, std::to_string(choices.min_quality));
  return core::sha256_hex(fields);
}

void share_sources(core::NewRequest& request, std::string_view scope) {
  request.source_keys.clear();
  for (const auto& product : request.products)
    for (const auto& url : product.image_urls)
      request.source_keys.push_back(source_key(scope, url, request));
}

}  // namespace imgbatch::intake
