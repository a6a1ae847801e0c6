// Compressing one image with libvips, as API.md's "What happens to an image" says:
// format sniffed from the bytes, header checked against the pixel limit before any
// decoding, truncated or corrupt input is an error, EXIF orientation applied, sRGB,
// alpha flattened onto white for formats without alpha, first frame only, metadata
// stripped, encoded at the requested quality.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/types.hpp"

namespace imgbatch::imaging {

struct EncodeOptions {
  int quality = 50;
  core::ImageFormat format = core::ImageFormat::jpeg;
  long long max_pixels = 100'000'000;
};

struct Encoded {
  std::string bytes;
  std::string extension;     // "jpg", "webp", "avif", "png"
  std::string content_type;  // "image/jpeg", …
  int width = 0;
  int height = 0;
};

// Call once per process before any compress(): starts libvips with its operation cache
// off and one thread per operation (parallelism comes from many images at once).
void init_vips(const char* argv0);

// Thread-safe; errors name the cause: "not an image", "unsupported format: svg",
// "too many pixels: 20000x14000 is 280000000 pixels, the limit is 100000000",
// "corrupt or truncated image: …".
core::Result<Encoded> compress(std::string_view input, const EncodeOptions& options);

// The extension compress() will produce for `format` when the input's own format is
// unknown (used to name outputs before encoding).
std::string extension_for(core::ImageFormat format);

}  // namespace imgbatch::imaging
