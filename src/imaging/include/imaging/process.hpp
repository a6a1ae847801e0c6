// One source image in, every output an upload asks for out (issue 14): the full-size image
// and each named size, each at a fixed quality or at the lowest quality whose SSIM against
// the decoded source meets a target (`quality=auto`), under an optional byte cap, and the
// source itself kept (metadata stripped losslessly) when re-encoding would not make it
// smaller. The source is decoded at most once: every size is made from that one decode
// (and a JPEG that needs nothing but new quantisation is not decoded for its full-size
// output at all: the trial encodes go through the DCT-domain path). Steps as compress():
// format allow-list, pixel limit before decoding, EXIF orientation applied, 8-bit sRGB,
// alpha flattened for JPEG, metadata stripped. Why SSIM and not butteraugli, how the
// search works and how the default target was calibrated: docs/architecture.md,
// "Quality targets"; the figures: BENCHMARKS.md, "Quality targets and sizes".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/failure.hpp"
#include "core/output_choices.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "imaging/compressor.hpp"

namespace imgbatch::imaging {

// A named output size (core/output_choices.hpp: names, limits and their checks).
using SizeBox = core::OutputSize;
inline constexpr int kMaxSizes = core::kMaxOutputSizes;
inline constexpr double kDefaultSsimTarget = core::kDefaultQualityTarget;

struct QualitySetting {
  bool automatic = false;  // false: `fixed` is used as it is
  int fixed = 50;          // 1-100
  // SSIM (luma, Gaussian window as Wang et al. 2004) the output must reach against the
  // decoded source, in (0, 1); 0 means kDefaultSsimTarget. Only with `automatic`.
  double target = 0;
};

struct ProcessOptions {
  QualitySetting quality;
  // Largest output in bytes, for the full-size image and every size; 0: no cap. When the
  // chosen quality gives more, the highest quality that fits is used instead; when even
  // `min_quality` does not fit, process() fails (encode_error, naming the smallest size).
  std::int64_t max_bytes = 0;
  int min_quality = 10;  // 1-100: the lowest quality max_bytes and auto may go to
  // The full-size output is the source itself (metadata stripped losslessly) when the
  // re-encode would not be smaller and the source is already in the output format with
  // nothing to fix: JPEG (upright, no non-sRGB profile) or WebP (upright, no non-sRGB
  // profile). PNG, GIF, TIFF and HEIF sources are always re-encoded.
  bool never_larger = true;
  core::ImageFormat format = core::ImageFormat::jpeg;
  std::vector<SizeBox> sizes;          // outputs after the full-size one, in this order
  long long max_pixels = 100'000'000;  // of the source; 0 or less: no limit
};

struct ImageReport {
  int quality = 0;              // the encoder quality used (for `kept`: 0)
  std::optional<double> score;  // SSIM against the source, when a target was used
  std::int64_t bytes_in = 0;    // the source's size (the same for every output)
  std::int64_t bytes_out = 0;   // this output's size
  bool kept = false;            // the source itself, metadata stripped
  core::ImageFormat format = core::ImageFormat::jpeg;  // the output's, never `keep`
};

struct ProcessedImage {
  std::string size;  // "" for the full-size image, else the SizeBox's name
  Encoded encoded;
  ImageReport report;
};

// Checks options without an image; nullopt when they are valid, else a message naming
// the field, e.g. "sizes: duplicate name 'thumb'", "quality: 0 is outside 1-100",
// "target: 1.5 is outside (0, 1)", "max_bytes: -1 is negative", "sizes: 9 sizes, at most 8".
std::optional<std::string> check_options(const ProcessOptions& options);

// Thread-safe; `input` only needs to live until the call returns. The full-size image
// first, then each size in the order asked. Failures as compress(), plus encode_error for
// options check_options() refuses ("invalid options: …") and for a max_bytes nothing fits:
// "cannot fit 20000 bytes: the smallest output, at quality 10, is 48213 bytes (thumb)".
core::Result<std::vector<ProcessedImage>, core::Failure> process(std::string_view input,
                                                                 const ProcessOptions& options);

}  // namespace imgbatch::imaging
