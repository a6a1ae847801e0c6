// Which inputs the compressor accepts and what it writes. The input format is sniffed
// from the bytes by libvips and checked against an allow-list of raster photo formats:
// libvips can also load SVG, PDF, ImageMagick files, matrices and more, all of which are
// attack surface a photo pipeline does not need.
#pragma once

#include <string_view>

#include "core/failure.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace imgbatch::imaging::impl {

enum class SourceFormat { jpeg, png, webp, gif, tiff, heif };

struct Source {
  SourceFormat format;
  const char* loader;  // the libvips operation that reads it, e.g. "jpegload_buffer"
};

// not_an_image, "not an image (…)", when libvips knows no loader for the bytes;
// unsupported_format, "unsupported image format: svg (accepted: …)", when it does but the
// format is not allowed.
core::Result<Source, core::Failure> sniff_source(std::string_view bytes);

// What an encoded output is; `keep` is resolved before this is asked.
struct OutputKind {
  core::ImageFormat format;
  const char* name;  // for messages: "JPEG", "WebP", …
  const char* extension;
  const char* content_type;
  bool has_alpha;  // whether the encoding can carry transparency
};

// `keep` becomes the input's format when it is JPEG, PNG or WebP, else JPEG.
core::ImageFormat resolve_format(core::ImageFormat requested, SourceFormat source);
OutputKind output_kind(core::ImageFormat resolved);

}  // namespace imgbatch::imaging::impl
