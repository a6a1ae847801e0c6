// Compressing one image with libvips, as docs/API.md's "What happens to each image" says:
// format sniffed from the bytes and checked against an allow-list (JPEG, PNG, WebP, GIF,
// TIFF, HEIF/AVIF), header checked against the pixel limit before any decoding,
// truncated or corrupt input is an error, EXIF orientation applied, 8-bit sRGB (a
// greyscale input stays greyscale: same look, smaller JPEG), alpha flattened onto white
// for JPEG and kept for WebP/PNG/AVIF, first frame (or HEIF primary image) only, all
// metadata stripped, encoded at the requested quality (PNG is lossless: quality does not
// apply). The whole decode runs inside compress(), one libvips thread per call:
// parallelism comes from calling it on many threads at once. A JPEG that needs nothing
// but new quantisation (4:2:0 YCbCr, upright, sRGB, up to 16 MP) skips the pixels: its DCT
// coefficients are requantised to the target tables (dct_requantise.hpp), about 1.4x less
// CPU at the same size and PSNR (BENCHMARKS.md).
#pragma once

#include <string>
#include <string_view>

#include "core/failure.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace imgbatch::imaging {

struct EncodeOptions {
  int quality = 50;  // 1-100; values outside are clamped
  core::ImageFormat format = core::ImageFormat::jpeg;
  long long max_pixels = 100'000'000;  // of one frame; 0 or less: no limit
};

struct Encoded {
  std::string bytes;
  std::string extension;     // "jpg", "webp", "avif", "png"
  std::string content_type;  // "image/jpeg", …
  int width = 0;
  int height = 0;
};

// Starts libvips with its operation cache off and one thread per operation, and drops
// libvips' own warnings (compress() reports every failure as its result). Call it
// early in main(); later calls do nothing, and compress() calls it itself if needed.
// Throws std::runtime_error if libvips cannot start.
void init_vips(const char* argv0);

// Thread-safe. `input` is not copied and only needs to live until the call returns.
// A failure has a kind and a message naming the cause, e.g.:
//   not_an_image        "not an image (the bytes are not a known image format)"
//   unsupported_format  "unsupported image format: svg (accepted: JPEG, PNG, WebP, GIF, TIFF,
//                       HEIF/AVIF)"
//   too_many_pixels     "too many pixels: 20000x14000 is 280000000 pixels, the limit is
//                       100000000"
//   decode_error        "corrupt or truncated image: VipsJpeg: Premature end of JPEG file",
//                       "cannot decode HEIF/AVIF image: …"
//   convert_error       "unsupported colour space: …", "cannot convert the image to sRGB: …"
//   encode_error        "image too large for WebP: 20000x300, WebP stores at most 16383
//                       pixels a side (choose png)", "AVIF output is not available in this
//                       libvips build (…); choose jpeg, webp or png"
// `keep` writes the input's format when it is JPEG, PNG or WebP, else JPEG.
core::Result<Encoded, core::Failure> compress(std::string_view input, const EncodeOptions& options);

// The extension compress() will produce for `format` when the input's own format is
// unknown (used to name outputs before encoding): `keep` gives "jpg".
std::string extension_for(core::ImageFormat format);

}  // namespace imgbatch::imaging
