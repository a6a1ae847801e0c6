// What an upload may choose about its outputs besides quality and format (issue 14,
// docs/API.md "Output choices"): quality=auto with an SSIM target, a byte cap, keeping
// the source when re-encoding would not make it smaller, and named sizes. The one place
// that parses, checks and writes them: the upload form, the CLI, the stores (which keep
// the sizes as their canonical text) and imaging all use these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace imgbatch::core {

// A named output size: the image is scaled to fit inside width x height, keeping its
// aspect ratio, and never enlarged (a smaller source comes out at its own size).
struct OutputSize {
  std::string name;  // [a-z0-9_-], 1 to kMaxOutputSizeNameLength characters, unique
  int width = 0;     // 1 to kMaxOutputSizeSide
  int height = 0;
  bool operator==(const OutputSize&) const = default;
};

inline constexpr int kMaxOutputSizes = 8;
inline constexpr int kMaxOutputSizeSide = 16383;  // WebP's limit, and far above any screen
inline constexpr std::size_t kMaxOutputSizeNameLength = 32;

// The SSIM target `quality=auto` uses when none is given: S, the worst SSIM fixed quality
// 50 gives any of the 14 photos of shared/testdata/photos (0.91995, Blinds.jpg), rounded
// up to two places. `make bench` (BENCH_ONLY=quality) prints S again; BENCHMARKS.md,
// "Quality targets and sizes".
inline constexpr double kDefaultQualityTarget = 0.92;
// The lowest quality max_bytes and quality=auto may go to, unless --min-quality says.
inline constexpr int kDefaultMinQuality = 10;

struct OutputChoices {
  // Set: quality=auto, the lowest quality whose SSIM against the source reaches this
  // target, in (0, 1). Unset: the request's fixed quality.
  std::optional<double> quality_target;
  std::int64_t max_bytes = 0;  // the largest output (full size and each size); 0: no cap
  bool never_larger = true;    // keep the source when the re-encode is not smaller
  std::vector<OutputSize> sizes;
  // The lowest quality max_bytes and quality=auto may go to (1-100): --min-quality of the
  // node that took the upload, stored with the request like the defaults above, so that it
  // is part of what makes two outputs equal (the source key) whichever worker makes them.
  int min_quality = kDefaultMinQuality;
  bool operator==(const OutputChoices&) const = default;
};

// [a-z0-9_-], 1 to kMaxOutputSizeNameLength characters.
bool valid_size_name(std::string_view name);

// "thumb:200x200,card:600x600" (spaces around items allowed; "" is no sizes), checked as
// check_output_sizes does. Errors name the field: "sizes: 'thumb:0x10' …".
Result<std::vector<OutputSize>> parse_output_sizes(std::string_view text);
// The canonical text parse_output_sizes reads back: "thumb:200x200,card:600x600".
std::string format_output_sizes(const std::vector<OutputSize>& sizes);
// nullopt when valid, else a message naming the field: "sizes: duplicate name 'thumb'",
// "sizes: 9 sizes, at most 8", "sizes: thumb is 0x10, each side must be 1-16383".
std::optional<std::string> check_output_sizes(const std::vector<OutputSize>& sizes);

// "auto" or an integer 1-100; errors name the field.
struct QualityChoice {
  bool automatic = false;
  int fixed = 0;  // when not automatic
};
Result<QualityChoice> parse_quality(std::string_view text);
// A number in (0, 1); errors name the field ("target: …").
Result<double> parse_quality_target(std::string_view text);
// An integer of at least 1 byte; errors name the field ("max_bytes: …").
Result<std::int64_t> parse_max_bytes(std::string_view text);
// "true" or "false" (also 1/0, yes/no, on/off, as HTML forms and shells say it).
Result<bool> parse_never_larger(std::string_view text);

// The stored name of a size of an image: "0-1.jpg" and "thumb" give "0-1-thumb.jpg". The
// full-size names are digits and a dash before the extension, so no size's name can be
// another image's. The stores build the same name from a stored image's blob key to
// queue its sizes for removal with it.
std::string sized_output_name(std::string_view output_name, std::string_view size);

// What became of one image (the full-size output), for GET /status, the output CSV and
// the webhook.
struct ImageReport {
  std::optional<int> quality;   // the encoder quality used; none when the source was kept
  std::optional<double> score;  // the SSIM reached, when a target was used
  bool kept = false;            // the source itself, metadata stripped
  bool operator==(const ImageReport&) const = default;
};

}  // namespace imgbatch::core
