#include "formats.hpp"

#include <array>
#include <string>

#include <vips/vips.h>

#include "vips_support.hpp"

namespace imgbatch::imaging::impl {
namespace {

// Searched by value with a linear scan: six entries.
struct Allowed {
  std::string_view loader;
  SourceFormat format;
};

// vips_foreign_find_load_buffer only returns "*_buffer" loaders, so these are the names
// to allow (8.14 names; gifload is libnsgif's, heifload reads both HEIC and AVIF).
constexpr std::array<Allowed, 6> kAllowed{{
    {"jpegload_buffer", SourceFormat::jpeg},
    {"pngload_buffer", SourceFormat::png},
    {"webpload_buffer", SourceFormat::webp},
    {"gifload_buffer", SourceFormat::gif},
    {"tiffload_buffer", SourceFormat::tiff},
    {"heifload_buffer", SourceFormat::heif},
}};

// "svgload_buffer" -> "svg", "magickload_buffer" -> "magick".
std::string format_name(std::string_view loader) {
  const auto at = loader.find("load");
  return std::string(at == std::string_view::npos ? loader : loader.substr(0, at));
}

}  // namespace

core::Result<Source, core::Failure> sniff_source(std::string_view bytes) {
  // Gives the loader's class name ("VipsForeignLoadJpegBuffer"); operations are
  // called by their nickname ("jpegload_buffer").
  const char* type_name = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  const char* loader =
      type_name != nullptr ? vips_nickname_find(g_type_from_name(type_name)) : nullptr;
  if (loader == nullptr) {
    discard_vips_error();
    return core::make_failure(core::Failure::Kind::not_an_image,
                              "not an image (the bytes are not a known image format)");
  }
  for (const auto& allowed : kAllowed)
    if (allowed.loader == loader) return Source{allowed.format, loader};
  return core::make_failure(core::Failure::Kind::unsupported_format,
                            "unsupported image format: " + format_name(loader) +
                                " (accepted: JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF)");
}

core::ImageFormat resolve_format(core::ImageFormat requested, SourceFormat source) {
  if (requested != core::ImageFormat::keep) return requested;
  switch (source) {
    case SourceFormat::png:
      return core::ImageFormat::png;
    case SourceFormat::webp:
      return core::ImageFormat::webp;
    default:
      return core::ImageFormat::jpeg;
  }
}

OutputKind output_kind(core::ImageFormat resolved) {
  switch (resolved) {
    case core::ImageFormat::webp:
      return {resolved, "WebP", "webp", "image/webp", true};
    case core::ImageFormat::avif:
      return {resolved, "AVIF", "avif", "image/avif", true};
    case core::ImageFormat::png:
      return {resolved, "PNG", "png", "image/png", true};
    case core::ImageFormat::jpeg:
    case core::ImageFormat::keep:
    case core::ImageFormat::best:  // process() tries each format in turn: never here
      break;
  }
  return {core::ImageFormat::jpeg, "JPEG", "jpg", "image/jpeg", false};
}

}  // namespace imgbatch::imaging::impl
