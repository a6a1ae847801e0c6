#include "imaging/process.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <vips/vips.h>

#include "codec_steps.hpp"
#include "coefficient_ssim.hpp"
#include "dct_requantise.hpp"
#include "formats.hpp"
#include "icc.hpp"
#include "process_tuning.hpp"
#include "raw_planes.hpp"
#include "similarity.hpp"
#include "transform.hpp"
#include "vips_support.hpp"
#include "webp_metadata.hpp"

namespace imgbatch::imaging {
namespace {

using impl::ImagePtr;
using impl::OutputKind;
using impl::take_vips_error;
using Kind = core::Failure::Kind;

// The search of `quality=auto` stays within [min_quality, kAutoHighest]: above 95 JPEG
// files grow fast for nothing a viewer sees.
constexpr int kAutoHighest = 95;
// Where the search starts: below the fixed default of 50, since the default target is
// what 50 gives the hardest of the calibration photos, so most photos need less.
constexpr int kAutoFirstGuess = 40;
// The search stops when the lowest quality known to pass is at most this far above the
// highest known to fail: one quality step is about 1-2 % of bytes, not worth a trial.
constexpr int kAutoTolerance = 2;
constexpr int kAutoMaxTrials = 8;
// What the coefficient SSIM must clear above the target: its estimate lies up to 0.0007
// above the decoded output's SSIM (coefficient_ssim.hpp), and the target is a promise
// about the decoded output.
constexpr double kEstimateMargin = 0.001;
// The metric's planes take about 20 bytes a pixel (float luma, local means, squares, the
// decoded trial): above this many pixels the comparison runs on a box-shrunk copy, the
// smallest shrink that brings it under (a 100 MP upload would otherwise need 2 GB).
constexpr long long kMetricMaxPixels = 8'000'000;
// Below this many pixels quality=auto writes and decodes its trials instead of using the
// coefficient SSIM: a picture of a few sampled tiles (thumbnails, cards) read up to 0.036
// above its real SSIM, so the target was missed, while at this size a real trial costs a
// millisecond or two.
constexpr long long kFewestPixelsForCoefficientSsim = 512LL * 512;
// From quality 90 on, the DCT-domain path does not apply (dct_requantise.hpp).
constexpr int kFirstUnsubsampledQuality = 90;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};

std::string number(double value) {
  std::string text = std::to_string(value);
  while (text.size() > 1 && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

core::Failure invalid(const std::string& message) {
  return core::make_failure(Kind::encode_error, "invalid options: " + message);
}

// One output being made: the full-size image or a size.
struct Output {
  std::string name;  // "" for the full-size image
  ImagePtr image;    // prepared pixels in memory (null until needed for the full size)
  bool dct = false;  // trial encodes through impl::requantise_jpeg(input, q)
  int width = 0, height = 0;
  std::map<int, std::string> encodings;     // by quality
  ImagePtr reference;                       // what the metric compares with (lazy)
  std::optional<impl::SsimReference> ssim;  // its SSIM side, once computed
  int reduce = 1;
  // For a `dct` output: the SSIM from the source's coefficients, with no trial written
  // (read on the first trial; nullopt after `coefficients_read` when it does not apply).
  std::optional<impl::CoefficientSsim> coefficient_ssim;
  bool coefficients_read = false;
};

struct Choice {
  int quality = 0;
  std::optional<double> score;
};

class Processor {
 public:
  Processor(std::string_view input, const ProcessOptions& options,
            const impl::ProcessTuning& tuning)
      : input_(input), options_(options), tuning_(tuning) {}

  core::Result<std::vector<ProcessedImage>, core::Failure> run();

 private:
  core::Result<core::Ok, core::Failure> open();
  core::Result<VipsImage*, core::Failure> pixels();
  core::Result<const std::string*, core::Failure> encode_at(Output& out, int quality);
  core::Result<std::optional<double>, core::Failure> score_at(Output& out, int quality);
  const impl::CoefficientSsim* coefficient_metric(Output& out);
  bool passes(double score, double margin) const {
    return tuning_.distance ? score <= target_ : score >= target_ + margin;
  }
  core::Result<Choice, core::Failure> search(Output& out);
  core::Result<Choice, core::Failure> choose(Output& out);
  core::Result<int, core::Failure> fit(Output& out, int above);
  std::optional<std::string> keepable_source() const;
  std::pair<std::string, bool> kept_or(std::string bytes) const;
  bool planes_apply(int quality) const;
  std::optional<std::vector<ProcessedImage>> from_planes(
      const Output& full, int quality, const std::vector<std::pair<int, int>>& dimensions,
      const std::vector<std::size_t>& order);
  core::Result<ImagePtr, core::Failure> size_source(const Output& full, int largest_width,
                                                    int largest_height);
  ProcessedImage finished(const Output& out, const Choice& choice, std::string bytes,
                          bool kept) const;

  std::string_view input_;
  const ProcessOptions& options_;
  const impl::ProcessTuning& tuning_;
  double target_ = 0;
  impl::Source source_{};
  OutputKind kind_{};
  ImagePtr header_;
  ImagePtr pixels_;
  std::optional<core::Failure> pixels_failure_;
};

core::Result<core::Ok, core::Failure> Processor::open() {
  impl::ensure_vips(nullptr);
  auto source = impl::sniff_source(input_);
  if (!source) return source.error();
  source_ = *source;
  kind_ = impl::output_kind(impl::resolve_format(options_.format, source_.format));
  if (kind_.format == core::ImageFormat::avif && impl::avif_unavailable())
    return core::make_failure(Kind::encode_error,
                              "AVIF output is not available in this libvips build (" +
                                  *impl::avif_unavailable() + "); choose jpeg, webp or png");
  auto header = impl::open_lazily(input_, source_, VIPS_ACCESS_RANDOM);
  if (!header) return header.error();
  header_ = std::move(*header);
  return impl::check_pixels(header_.get(), options_.max_pixels);
}

// The one decode of the source: oriented, 8-bit sRGB, alpha as the output needs, held in
// memory because every trial encode and every size reads it again.
core::Result<VipsImage*, core::Failure> Processor::pixels() {
  if (pixels_) return pixels_.get();
  if (pixels_failure_) return *pixels_failure_;
  auto remember = [this](core::Failure failure) {
    pixels_failure_ = failure;
    return failure;
  };
  auto opened = impl::open_lazily(input_, source_, VIPS_ACCESS_RANDOM);
  if (!opened) return remember(opened.error());
  ImagePtr image = std::move(*opened);
  if (auto status = impl::prepare(image, kind_.has_alpha); !status) return remember(status.error());
  if (auto status = impl::check_encodable(image.get(), kind_); !status)
    return remember(status.error());
  VipsImage* memory = vips_image_copy_memory(image.get());
  if (memory == nullptr)
    return remember(
        core::make_failure(Kind::decode_error, "corrupt or truncated image: " + take_vips_error()));
  pixels_.reset(memory);
  return pixels_.get();
}

core::Result<const std::string*, core::Failure> Processor::encode_at(Output& out, int quality) {
  if (auto found = out.encodings.find(quality); found != out.encodings.end()) return &found->second;
  if (out.dct && quality < kFirstUnsubsampledQuality) {
    if (auto bytes = impl::requantise_jpeg(input_, quality))
      return &out.encodings.emplace(quality, std::move(*bytes)).first->second;
    out.dct = false;  // libjpeg found damage: the full path decides the outcome
  }
  if (!out.image) {
    auto image = pixels();
    if (!image) return image.error();
    g_object_ref(*image);
    out.image.reset(*image);
  }
  void* raw = nullptr;
  size_t length = 0;
  if (impl::encode(out.image.get(), kind_, quality, &raw, &length) != 0)
    return core::make_failure(Kind::encode_error, "cannot encode: " + take_vips_error());
  const std::unique_ptr<void, GFree> buffer(raw);
  const std::string_view bytes(static_cast<const char*>(raw), length);
  std::string stored = kind_.format == core::ImageFormat::webp ? impl::strip_webp_metadata(bytes)
                                                               : std::string(bytes);
  return &out.encodings.emplace(quality, std::move(stored)).first->second;
}

// The coefficient SSIM (coefficient_ssim.hpp) of a JPEG output when the metric is the
// product's (SSIM at full scale): from the source's coefficients when the DCT-domain path
// writes the output, else from the output's pixels. nullptr for other formats (their
// trials are written and decoded) and where it does not apply.
const impl::CoefficientSsim* Processor::coefficient_metric(Output& out) {
  if (kind_.format != core::ImageFormat::jpeg || tuning_.distance || tuning_.metric_reduce > 1 ||
      tuning_.pixel_metric)
    return nullptr;
  if (static_cast<long long>(out.width) * out.height < kFewestPixelsForCoefficientSsim)
    return nullptr;
  if (!out.coefficients_read) {
    out.coefficients_read = true;
    if (out.dct) out.coefficient_ssim = impl::CoefficientSsim::read(input_);
    if (!out.coefficient_ssim) {
      if (!out.image) {
        auto image = pixels();
        if (!image) return nullptr;  // the trial's own encode reports the failure
        g_object_ref(*image);
        out.image.reset(*image);
      }
      out.coefficient_ssim = impl::CoefficientSsim::from_pixels(out.image.get());
    }
  }
  return out.coefficient_ssim ? &*out.coefficient_ssim : nullptr;
}

// The metric of the output at `quality` against the decoded source; nullopt when libvips
// could not compute it (then auto falls back on the fixed quality).
core::Result<std::optional<double>, core::Failure> Processor::score_at(Output& out, int quality) {
  if (const impl::CoefficientSsim* metric = coefficient_metric(out)) {
    if (tuning_.trials) ++*tuning_.trials;
    return std::optional<double>{metric->score(quality)};
  }
  auto bytes = encode_at(out, quality);
  if (!bytes) return bytes.error();
  if (!out.reference) {
    if (!out.image) {
      auto image = pixels();
      if (!image) return image.error();
      g_object_ref(*image);
      out.image.reset(*image);
    }
    g_object_ref(out.image.get());
    out.reference.reset(out.image.get());
    const long long area = static_cast<long long>(vips_image_get_width(out.image.get())) *
                           vips_image_get_height(out.image.get());
    int reduce = std::max(1, tuning_.metric_reduce);
    while (area / (static_cast<long long>(reduce) * reduce) > kMetricMaxPixels) ++reduce;
    out.reduce = reduce;
  }
  if (tuning_.trials) ++*tuning_.trials;
  // Sequential: the metric reads the trial once, top to bottom, so libvips decodes it in
  // strips instead of into a whole frame (an allocation and page faults per trial).
  VipsImage* decoded = vips_image_new_from_buffer((*bytes)->data(), (*bytes)->size(), "", "access",
                                                  VIPS_ACCESS_SEQUENTIAL, nullptr);
  if (decoded == nullptr) {
    impl::discard_vips_error();
    return std::optional<double>{};
  }
  const ImagePtr candidate(decoded);
  if (tuning_.distance) return tuning_.distance(out.reference.get(), candidate.get());
  if (!out.ssim) {
    out.ssim = impl::SsimReference::make(out.reference.get(), out.reduce);
    if (!out.ssim) return std::optional<double>{};
  }
  return out.ssim->score(candidate.get());
}

// The lowest quality whose score meets the target. The distortion (1 - SSIM, or the
// distance of ProcessTuning) falls about as 1/quality on photos, so a first trial at
// kAutoFirstGuess already points near the answer; after that the search interpolates on
// that model between the nearest pass and fail. Every trial's encoding is kept, so the
// answer costs no further encode.
core::Result<Choice, core::Failure> Processor::search(Output& out) {
  const int lo = std::clamp(options_.min_quality, 1, kAutoHighest);
  const int hi = kAutoHighest;
  // A coefficient SSIM trial costs milliseconds: the search then finds the exact lowest
  // quality.
  const bool estimated = coefficient_metric(out) != nullptr;
  const int tolerance = tuning_.tolerance > 0 ? tuning_.tolerance : estimated ? 1 : kAutoTolerance;
  const double margin = estimated ? kEstimateMargin : 0;
  auto distortion = [this](double score) {
    return std::max(1e-6, tuning_.distance ? score : 1.0 - score);
  };
  const double wanted = distortion(target_ + margin);
  std::optional<std::pair<int, double>> pass, fail;
  int quality = std::clamp(kAutoFirstGuess, lo, hi);
  // Most photos meet the default target at the floor (BENCHMARKS.md): one trial there
  // settles them. When it fails, the search below runs as if it had not been made (it
  // starts from the first guess and does not take the floor as its nearest fail), so it
  // picks what it would have picked.
  if (lo < quality) {
    auto score = score_at(out, lo);
    if (!score) return score.error();
    if (!*score) return Choice{std::clamp(options_.quality.fixed, 1, 100), std::nullopt};
    if (passes(**score, margin)) return Choice{lo, **score};
  }
  // With the coefficient SSIM a trial costs milliseconds, and the model's small steps on a
  // flat curve (fine stripes: Blinds gains 0.001 in ten qualities) can run out of trials:
  // there the steps upwards double and a bracket is halved, which ends in a few more.
  int leap = 2;
  const int max_trials = estimated ? 2 * kAutoMaxTrials : kAutoMaxTrials;
  for (int trial = 0; trial < max_trials; ++trial) {
    auto score = score_at(out, quality);
    if (!score) return score.error();
    if (!*score) return Choice{std::clamp(options_.quality.fixed, 1, 100), std::nullopt};
    if (passes(**score, margin))
      pass = {quality, **score};
    else
      fail = {quality, **score};
    if (pass && (pass->first == lo || (fail && pass->first - fail->first <= tolerance))) break;
    if (!pass && fail->first == hi) break;
    // log(distortion) against log(quality): a line through the two nearest trials, or
    // slope -1 through the only one.
    const auto& [q1, s1] = pass ? *pass : *fail;
    double slope = -1.0;
    if (pass && fail && distortion(pass->second) != distortion(fail->second))
      slope = std::log(distortion(pass->second) / distortion(fail->second)) /
              std::log(static_cast<double>(pass->first) / fail->first);
    if (slope >= -0.2) slope = -1.0;  // flat or inverted: the model does not hold here
    const double estimate = q1 * std::exp(std::log(wanted / distortion(s1)) / slope);
    int next = static_cast<int>(std::ceil(estimate));
    const int floor_q = fail ? fail->first + 1 : lo;
    const int ceiling_q = pass ? pass->first - 1 : hi;
    if (estimated && pass && fail) {
      next = fail->first + (pass->first - fail->first) / 2;
    } else if (estimated && !pass) {
      next = std::max(next, quality + leap);
      leap *= 2;
    }
    next = std::clamp(next, floor_q, ceiling_q);
    if (next == quality) break;
    quality = next;
  }
  if (pass) return Choice{pass->first, pass->second};
  // The trials ran out below the target: the ceiling, which meets it if anything does.
  if (fail->first < hi) {
    auto score = score_at(out, hi);
    if (!score) return score.error();
    return Choice{hi, *score};
  }
  return Choice{fail->first, fail->second};  // out of reach: the best there is
}

// The highest quality below `above` whose output fits options_.max_bytes.
core::Result<int, core::Failure> Processor::fit(Output& out, int above) {
  const auto cap = static_cast<std::size_t>(options_.max_bytes);
  const int lowest = std::clamp(options_.min_quality, 1, 100);
  if (above <= lowest) above = lowest + 1;
  auto smallest = encode_at(out, lowest);
  if (!smallest) return smallest.error();
  if ((*smallest)->size() > cap)
    return core::make_failure(Kind::encode_error,
                              "cannot fit " + std::to_string(options_.max_bytes) +
                                  " bytes: the smallest output, at quality " +
                                  std::to_string(lowest) + ", is " +
                                  std::to_string((*smallest)->size()) + " bytes" +
                                  (out.name.empty() ? std::string() : " (size " + out.name + ")"));
  int fits = lowest, too_big = above;
  while (too_big - fits > 1) {
    const int middle = fits + (too_big - fits) / 2;
    auto bytes = encode_at(out, middle);
    if (!bytes) return bytes.error();
    ((*bytes)->size() <= cap ? fits : too_big) = middle;
  }
  return fits;
}

core::Result<Choice, core::Failure> Processor::choose(Output& out) {
  Choice choice{std::clamp(options_.quality.fixed, 1, 100), std::nullopt};
  // PNG is lossless: every quality gives the same pixels, so there is nothing to search.
  if (options_.quality.automatic && kind_.format == core::ImageFormat::png) {
    choice.score = tuning_.distance ? 0.0 : 1.0;
  } else if (options_.quality.automatic) {
    auto searched = search(out);
    if (!searched) return searched.error();
    choice = *searched;
  }
  // The chosen encoding, for run() to take (a cache hit after a search).
  if (auto bytes = encode_at(out, choice.quality); !bytes) return bytes.error();
  if (tuning_.always_score && !choice.score) {
    auto score = score_at(out, choice.quality);
    if (!score) return score.error();
    choice.score = *score;
  }
  if (options_.max_bytes > 0) {
    auto bytes = encode_at(out, choice.quality);
    if (!bytes) return bytes.error();
    if ((*bytes)->size() > static_cast<std::size_t>(options_.max_bytes)) {
      auto fitted = fit(out, choice.quality);
      if (!fitted) return fitted.error();
      choice.quality = *fitted;
      if (choice.score) {
        auto score = score_at(out, choice.quality);
        if (!score) return score.error();
        choice.score = *score;
      }
    }
  }
  return choice;
}

// What the sizes are scaled from. The one decode of the source when it is made anyway (a
// full-size output that is not a DCT-domain requantisation); otherwise the JPEG is decoded
// once at the largest libjpeg shrink (2, 4 or 8: its scaled IDCT, the shrink-on-load of
// vips_thumbnail) that still leaves every size to be reduced from it, or streamed.
// Only the sizes that are smaller than the full image count (`largest_*`, 0 if none).
core::Result<ImagePtr, core::Failure> Processor::size_source(const Output& full, int largest_width,
                                                             int largest_height) {
  if (largest_width == 0) return ImagePtr{};  // every size is the full-size output
  int shrink = 1;
  // (quality=auto decodes nothing either for a DCT-domain output: its trials are scored from
  // coefficients.)
  const bool decoded_anyway = pixels_ || !full.dct;
  if (!decoded_anyway) {
    for (const int candidate : {8, 4, 2}) {
      // libjpeg rounds the scaled sides up.
      if ((full.width + candidate - 1) / candidate >= largest_width &&
          (full.height + candidate - 1) / candidate >= largest_height) {
        shrink = candidate;
        break;
      }
    }
  }
  if (!decoded_anyway && shrink == 1) {
    // No shrink fits (a zoom size near the full size): the full decode streamed straight
    // into the largest size's resize, never held whole in memory (the largest size is made
    // first and every smaller one from it, so this is read once, top to bottom). The data
    // is known intact: the DCT-domain path has just read all of it. 0.8 x the CPU of a
    // decode into memory for full + three sizes of a 2560 px photo (page faults and a copy
    // of 12 MB each time).
    auto opened = impl::open_lazily(input_, source_, VIPS_ACCESS_SEQUENTIAL);
    if (opened) {
      ImagePtr image = std::move(*opened);
      if (impl::prepare(image, kind_.has_alpha)) return image;
    }
    impl::discard_vips_error();
  }
  if (shrink > 1) {
    VipsImage* loaded = nullptr;
    if (vips_jpegload_buffer(const_cast<char*>(input_.data()), input_.size(), &loaded, "shrink",
                             shrink, "access", VIPS_ACCESS_RANDOM, "fail_on",
                             VIPS_FAIL_ON_TRUNCATED, nullptr) == 0) {
      ImagePtr image(loaded);
      if (impl::prepare(image, kind_.has_alpha)) {
        if (VipsImage* memory = vips_image_copy_memory(image.get())) return ImagePtr(memory);
      }
    }
    // Damaged data: the full decode below gives the same outcome compress() would.
    impl::discard_vips_error();
  }
  auto image = pixels();
  if (!image) return image.error();
  g_object_ref(*image);
  return ImagePtr(*image);
}

bool has_non_srgb_profile(VipsImage* image) {
  if (vips_image_get_typeof(image, VIPS_META_ICC_NAME) == 0) return false;
  const void* data = nullptr;
  size_t size = 0;
  if (vips_image_get_blob(image, VIPS_META_ICC_NAME, &data, &size) != 0) {
    impl::discard_vips_error();
    return true;
  }
  return !impl::is_srgb_profile(data, size);
}

// The source without its metadata, when it may stand for the output: already in the
// output format and nothing for the pipeline to fix (orientation, colour, alpha).
std::optional<std::string> Processor::keepable_source() const {
  VipsImage* header = header_.get();
  if (vips_image_get_orientation(header) != 1 || has_non_srgb_profile(header)) return std::nullopt;
  // An animated WebP: the output is its first frame.
  if (vips_image_get_n_pages(header) > 1) return std::nullopt;
  const VipsInterpretation interpretation = vips_image_get_interpretation(header);
  if (vips_image_get_format(header) != VIPS_FORMAT_UCHAR ||
      (interpretation != VIPS_INTERPRETATION_sRGB && interpretation != VIPS_INTERPRETATION_B_W))
    return std::nullopt;
  if (source_.format == impl::SourceFormat::jpeg && kind_.format == core::ImageFormat::jpeg) {
    const int bands = vips_image_get_bands(header);
    if (bands != 1 && bands != 3) return std::nullopt;  // CMYK is converted
    return impl::strip_jpeg(input_);
  }
  if (source_.format == impl::SourceFormat::webp && kind_.format == core::ImageFormat::webp)
    return impl::strip_webp_metadata(input_);
  return std::nullopt;
}

// The full-size output's bytes, or the source in their place when "never larger" keeps it
// (the second member: kept).
std::pair<std::string, bool> Processor::kept_or(std::string bytes) const {
  if (options_.never_larger && bytes.size() >= input_.size()) {
    if (auto source = keepable_source()) return {std::move(*source), true};
  }
  return {std::move(bytes), false};
}

// Whether the full image and the sizes come from one raw decode (raw_planes.hpp): sizes
// at a fixed quality with no byte cap (auto and max_bytes encode several qualities and
// need the usual path's pixels), a JPEG to write from a JPEG that the DCT-domain path's
// header checks take (upright, sRGB or no profile, 8-bit, three bands, at most
// kDctMaxPixels, quality below 90: libvips writes 4:4:4 from 90 on); decode_planes()
// itself refuses a YCbCr layout the planes cannot hold. Bench variants that score fixed
// qualities take the usual path.
bool Processor::planes_apply(int quality) const {
  return !options_.quality.automatic && options_.max_bytes == 0 && !tuning_.always_score &&
         source_.format == impl::SourceFormat::jpeg && kind_.format == core::ImageFormat::jpeg &&
         impl::dct_header_eligible(header_.get(), quality);
}

// The full-size output and every size from one decode to planes: the full image encoded
// from them (converted to 4:2:0 first if the source is not), each size scaled from the
// smallest planes already made that cover it. nullopt for a layout the planes cannot hold,
// when libjpeg reports anything on the way (damaged data) or memory runs out: nothing is
// returned half made.
std::optional<std::vector<ProcessedImage>> Processor::from_planes(
    const Output& full, int quality, const std::vector<std::pair<int, int>>& dimensions,
    const std::vector<std::size_t>& order) {
  auto decoded = impl::decode_planes(input_);
  if (!decoded || decoded->width != full.width || decoded->height != full.height)
    return std::nullopt;
  std::optional<std::string> full_bytes;
  // The full image as compress() writes it where the DCT-domain path applies (the same
  // bytes with or without sizes, and its rounding's savings), for one more entropy decode.
  if (full.dct && !tuning_.full_from_planes) full_bytes = impl::requantise_jpeg(input_, quality);
  // Otherwise, or where the requantiser declines the coefficients (compress() then decodes
  // and encodes too), from the planes.
  if (!full_bytes) {
    std::optional<impl::Planes> converted;
    const impl::Planes* full_planes = &*decoded;
    if (decoded->luma_h != 2 || decoded->luma_v != 2) {
      converted = impl::scale_planes(*decoded, full.width, full.height);
      if (!converted) return std::nullopt;
      full_planes = &*converted;
    }
    full_bytes = impl::encode_planes(*full_planes, quality);
  }
  if (!full_bytes) return std::nullopt;
  const Choice choice{quality, std::nullopt};
  std::vector<ProcessedImage> results;
  auto [bytes, kept] = kept_or(std::move(*full_bytes));
  results.push_back(finished(full, choice, std::move(bytes), kept));

  std::vector<std::optional<ProcessedImage>> made(options_.sizes.size());
  std::vector<impl::Planes> scaled;  // largest first
  for (const std::size_t i : order) {
    const auto [width, height] = dimensions[i];
    if (width == full.width && height == full.height) {
      ProcessedImage same = results.front();  // not reduced: the full-size output serves
      same.size = options_.sizes[i].name;
      made[i] = std::move(same);
      continue;
    }
    const impl::Planes* from = &*decoded;
    for (const impl::Planes& candidate : scaled) {
      if (candidate.width >= width && candidate.height >= height) from = &candidate;
    }
    auto planes = impl::scale_planes(*from, width, height);
    if (!planes) return std::nullopt;
    auto encoded = impl::encode_planes(*planes, quality);
    if (!encoded) return std::nullopt;
    Output out;
    out.name = options_.sizes[i].name;
    out.width = width;
    out.height = height;
    made[i] = finished(out, choice, std::move(*encoded), false);
    scaled.push_back(std::move(*planes));
  }
  for (auto& output : made) results.push_back(std::move(*output));
  return results;
}

ProcessedImage Processor::finished(const Output& out, const Choice& choice, std::string bytes,
                                   bool kept) const {
  ProcessedImage done;
  done.size = out.name;
  done.encoded.bytes = std::move(bytes);
  done.encoded.extension = kind_.extension;
  done.encoded.content_type = kind_.content_type;
  done.encoded.width = out.width;
  done.encoded.height = out.height;
  done.report.quality = kept ? 0 : choice.quality;
  done.report.score = choice.score;
  if (kept && options_.quality.automatic) done.report.score = tuning_.distance ? 0.0 : 1.0;
  done.report.bytes_in = static_cast<std::int64_t>(input_.size());
  done.report.bytes_out = static_cast<std::int64_t>(done.encoded.bytes.size());
  done.report.kept = kept;
  done.report.format = kind_.format;
  return done;
}

core::Result<std::vector<ProcessedImage>, core::Failure> Processor::run() {
  ProcessOptions checked = options_;
  if (tuning_.distance) checked.quality.target = 0;  // a distance, not an SSIM
  if (auto problem = check_options(checked)) return invalid(*problem);
  target_ = options_.quality.target > 0 ? options_.quality.target : kDefaultSsimTarget;
  if (auto status = open(); !status) return status.error();

  std::vector<ProcessedImage> results;
  // The full-size image. Upright dimensions: autorot swaps them for a quarter turn.
  Output full;
  const int orientation = vips_image_get_orientation(header_.get());
  const bool swapped = orientation >= 5 && orientation <= 8;
  full.width = vips_image_get_width(header_.get());
  full.height = vips_image_get_page_height(header_.get());
  if (swapped) std::swap(full.width, full.height);
  const int first_quality = std::clamp(options_.quality.fixed, 1, 100);
  full.dct = source_.format == impl::SourceFormat::jpeg &&
             kind_.format == core::ImageFormat::jpeg &&
             impl::dct_header_eligible(header_.get(), 1) && impl::jpeg_layout_eligible(input_);

  // Each size's dimensions, from the upright full size: fit inside the box, never enlarged.
  std::vector<std::pair<int, int>> dimensions;
  int largest_width = 0, largest_height = 0;
  for (const SizeBox& box : options_.sizes) {
    const double scale = std::min({1.0, static_cast<double>(box.width) / full.width,
                                   static_cast<double>(box.height) / full.height});
    const int width = std::max(1, static_cast<int>(std::lround(full.width * scale)));
    const int height = std::max(1, static_cast<int>(std::lround(full.height * scale)));
    dimensions.emplace_back(width, height);
    if (width != full.width || height != full.height) {
      largest_width = std::max(largest_width, width);
      largest_height = std::max(largest_height, height);
    }
  }
  // The sizes are made largest first, each reduced from the smallest image already made
  // that covers it (a size made before, else the source's decode): a thumbnail from the
  // card rather than from the full decode, which cut the resize CPU (bench/quality_auto).
  // The outputs keep the order asked.
  std::vector<std::size_t> order(options_.sizes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return static_cast<long long>(dimensions[a].first) * dimensions[a].second >
           static_cast<long long>(dimensions[b].first) * dimensions[b].second;
  });

  // Only when some size is reduced: otherwise the full image alone is made, and the
  // DCT-domain path does that without decoding.
  if (largest_width > 0 && planes_apply(first_quality)) {
    if (auto outputs = from_planes(full, first_quality, dimensions, order))
      return std::move(*outputs);
    // A layout the planes cannot hold, damage libjpeg found, or memory that ran out: the
    // path below decides the outcome.
  }

  const bool plain = !options_.quality.automatic && options_.sizes.empty();
  if (plain) {
    // What compress() gives, streamed without holding the pixels; only a byte cap it
    // misses needs more encodes.
    EncodeOptions single;
    single.quality = first_quality;
    single.format = options_.format;
    single.max_pixels = options_.max_pixels;
    auto encoded = compress(input_, single);
    if (!encoded) return encoded.error();
    full.width = encoded->width;
    full.height = encoded->height;
    full.encodings.emplace(first_quality, std::move(encoded->bytes));
  }
  auto choice = choose(full);
  if (!choice) return choice.error();
  auto [bytes, kept] = kept_or(full.encodings.at(choice->quality));
  results.push_back(finished(full, *choice, std::move(bytes), kept));

  auto base = size_source(full, largest_width, largest_height);
  if (!base) return base.error();
  std::vector<std::optional<ProcessedImage>> made(options_.sizes.size());
  std::vector<ImagePtr> scaled_images;
  for (const std::size_t i : order) {
    const SizeBox& box = options_.sizes[i];
    const auto [width, height] = dimensions[i];
    if (width == full.width && height == full.height) {
      // Not reduced (the source fits the box): the full-size output serves as it is.
      ProcessedImage same = results.front();
      same.size = box.name;
      made[i] = std::move(same);
      continue;
    }
    VipsImage* from = base->get();
    for (const ImagePtr& candidate : scaled_images) {
      if (vips_image_get_width(candidate.get()) >= width &&
          vips_image_get_height(candidate.get()) >= height)
        from = candidate.get();  // later ones are smaller
    }
    const double hscale = static_cast<double>(width) / vips_image_get_width(from);
    const double vscale = static_cast<double>(height) / vips_image_get_height(from);
    // Linear (libvips widens it by the reduction factor, so it still averages every source
    // pixel): 0.75 x the CPU of the default lanczos3 for full + three sizes.
    VipsImage* scaled = nullptr;
    if (vips_resize(from, &scaled, hscale, "vscale", vscale, "kernel", VIPS_KERNEL_LINEAR,
                    nullptr) != 0)
      return core::make_failure(Kind::convert_error,
                                "cannot scale to " + box.name + ": " + take_vips_error());
    const ImagePtr scaled_ptr(scaled);
    VipsImage* memory = vips_image_copy_memory(scaled);
    if (memory == nullptr)
      return core::make_failure(Kind::convert_error,
                                "cannot scale to " + box.name + ": " + take_vips_error());
    Output out;
    out.name = box.name;
    out.image.reset(memory);
    out.width = vips_image_get_width(memory);
    out.height = vips_image_get_height(memory);
    auto sized = choose(out);
    if (!sized) return sized.error();
    made[i] = finished(out, *sized, out.encodings.at(sized->quality), false);
    g_object_ref(memory);
    scaled_images.emplace_back(memory);
  }
  for (auto& output : made) results.push_back(std::move(*output));
  return results;
}

}  // namespace

std::optional<std::string> check_options(const ProcessOptions& options) {
  const QualitySetting& quality = options.quality;
  if (!quality.automatic && (quality.fixed < 1 || quality.fixed > 100))
    return "quality: " + std::to_string(quality.fixed) + " is outside 1-100";
  if (quality.target != 0 && !(quality.target > 0 && quality.target < 1))
    return "target: " + number(quality.target) + " is outside (0, 1)";
  if (quality.target != 0 && !quality.automatic) return "target: only with quality auto";
  if (options.max_bytes < 0)
    return "max_bytes: " + std::to_string(options.max_bytes) + " is negative";
  if (options.format == core::ImageFormat::best && !quality.automatic)
    return "format: best needs quality=auto (the formats are compared at the same SSIM)";
  if (options.min_quality < 1 || options.min_quality > 100)
    return "min_quality: " + std::to_string(options.min_quality) + " is outside 1-100";
  return core::check_output_sizes(options.sizes);
}

namespace impl {

core::Result<std::vector<ProcessedImage>, core::Failure> process_tuned(
    std::string_view input, const ProcessOptions& options, const ProcessTuning& tuning) {
  if (tuning.trials) *tuning.trials = 0;
  if (options.format != core::ImageFormat::best) {
    Processor processor(input, options, tuning);
    return processor.run();
  }
  // `best`: each format meets the target on its own; the smallest full-size output wins,
  // and its sizes come with it. A format that cannot be written here (AVIF without an
  // encoder) or that misses max_bytes drops out; if all do, JPEG's failure is the answer.
  if (auto problem = check_options(options)) return invalid(*problem);
  std::optional<core::Result<std::vector<ProcessedImage>, core::Failure>> best;
  for (const auto format :
       {core::ImageFormat::jpeg, core::ImageFormat::webp, core::ImageFormat::avif}) {
    ProcessOptions one = options;
    one.format = format;
    Processor processor(input, one, tuning);
    auto outputs = processor.run();
    // Only an encoder's failure (no AVIF here, a cap it misses) is the format's own.
    if (!outputs && outputs.error().kind != core::Failure::Kind::encode_error) return outputs;
    if (!best || (outputs && (!*best || outputs->front().report.bytes_out <
                                            (**best).front().report.bytes_out)))
      best = std::move(outputs);
  }
  return std::move(*best);
}

}  // namespace impl

core::Result<std::vector<ProcessedImage>, core::Failure> process(std::string_view input,
                                                                 const ProcessOptions& options) {
  return impl::process_tuned(input, options, impl::ProcessTuning{});
}

}  // namespace imgbatch::imaging
