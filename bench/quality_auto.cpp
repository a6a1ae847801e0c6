// The image-level targets of issue 14 ("The smallest file that still looks right"),
// measured with the product's own imaging::process() on the given photos, in one run:
//   calibration  S = the worst score (the product's metric) fixed quality 50 gives any
//                photo; then quality=auto at target S: every photo meets S, and the total
//                bytes against fixed 50 (target <= 0.80)
//   cost         CPU per image of auto against fixed 50 (target <= 4), and of the full
//                image plus three sizes (thumb 200, card 600, zoom 2000) against the full
//                image alone (target <= 1.6); CPU time of the whole process, the variants
//                alternating over --rounds rounds
//   max_bytes    fixed quality 80 under --cap bytes: every output at or under the cap,
//                the median quality chosen
// With --dump DIR the fixed-50 and auto outputs are written there (NAME.q50.jpg,
// NAME.auto.jpg) for bench/ssim_check.py, the independent SSIM (scikit-image).
//
//   quality_auto [--metric ssim|butteraugli] [--reduce N] [--tolerance N] [--pixel-metric]
//                [--compare-pixel-metric] [--rounds N] [--cap BYTES] [--dump DIR]
//                [--sizes-only ROUNDS] [--full-from-planes] FILE...
// --sizes-only runs nothing but full + three sizes, ROUNDS times, for a profiler (perf).
// --full-from-planes makes the raw-plane path (full + sizes at a fixed quality) encode the
// full image from the decoded planes instead of requantising it as compress() does.
// --compare-pixel-metric prints, per photo, the quality auto picks at S and the one it picks
// when every trial is written, decoded and compared on the whole picture.
// --metric, --reduce, --tolerance and --pixel-metric (every trial written and decoded, no
// coefficient SSIM) run the alternatives the product's choices were
// measured against (impl::ProcessTuning; docs/architecture.md, "Quality targets").
#include <time.h>

#include <jxl/butteraugli.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dct_requantise.hpp"
#include "imaging/compressor.hpp"
#include "imaging/process.hpp"
#include "imaging/process_tuning.hpp"

#include <vips/vips8>

namespace {

using imgbatch::imaging::ProcessedImage;
using imgbatch::imaging::ProcessOptions;
using imgbatch::imaging::impl::ProcessTuning;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// CPU of the whole process: libvips may run parts of a pipeline on its own threads.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

struct GFree {
  void operator()(void* p) const { g_free(p); }
};

// Packed RGB bytes of an 8-bit image (grey expanded to three bands, alpha dropped).
std::unique_ptr<void, GFree> rgb_bytes(VipsImage* image, size_t& length) {
  g_object_ref(image);
  vips::VImage rgb(image);
  if (rgb.bands() < 3) rgb = rgb[0].bandjoin({rgb[0], rgb[0]});
  if (rgb.bands() > 3) rgb = rgb.extract_band(0, vips::VImage::option()->set("n", 3));
  return std::unique_ptr<void, GFree>(vips_image_write_to_memory(rgb.get_image(), &length));
}

// libjxl's butteraugli distance (3-norm) of two 8-bit sRGB images of the same size: 0 is
// identical, about 1 "just noticeable". The alternative to the product's SSIM.
std::optional<double> butteraugli(VipsImage* reference, VipsImage* candidate) {
  size_t length_a = 0, length_b = 0;
  const auto a = rgb_bytes(reference, length_a);
  const auto b = rgb_bytes(candidate, length_b);
  if (!a || !b || length_a != length_b) return std::nullopt;
  JxlButteraugliApi* api = JxlButteraugliApiCreate(nullptr);
  if (api == nullptr) return std::nullopt;
  const JxlPixelFormat format{3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
  JxlButteraugliResult* result =
      JxlButteraugliCompute(api, static_cast<uint32_t>(vips_image_get_width(reference)),
                            static_cast<uint32_t>(vips_image_get_height(reference)), &format,
                            a.get(), length_a, &format, b.get(), length_b);
  JxlButteraugliApiDestroy(api);
  if (result == nullptr) return std::nullopt;
  const double distance = JxlButteraugliResultGetDistance(result, 3.0f);
  JxlButteraugliResultDestroy(result);
  return distance;
}

struct Run {
  std::vector<ProcessedImage> outputs;
  double cpu_s = 0;
  int trials = 0;
};

Run run(const std::string& input, const ProcessOptions& options, ProcessTuning tuning,
        const std::string& path) {
  Run result;
  tuning.trials = &result.trials;
  const double start = cpu_seconds();
  auto outputs = imgbatch::imaging::impl::process_tuned(input, options, tuning);
  result.cpu_s = cpu_seconds() - start;
  if (!outputs) throw std::runtime_error(path + ": " + outputs.error().message);
  result.outputs = std::move(*outputs);
  return result;
}

std::int64_t total_bytes(const Run& r) {
  std::int64_t sum = 0;
  for (const auto& output : r.outputs) sum += output.report.bytes_out;
  return sum;
}

// The least CPU any implementation of the sizes must spend with these codecs (libvips'
// jpegload and jpegsave, as the product decodes and encodes): `encodes`, each size encoded
// at quality 50 from pixels already resized, with the product's settings (optimised
// Huffman tables, baseline); `decode`, the decode the sizes need when the full image is a
// DCT-domain requantisation that decodes no pixels (at the largest libjpeg shrink-on-load
// of 1/2/4/8 that still covers every size; 0 where the full image is decoded anyway). A
// size as large as the source is the full-size output itself and costs nothing. No resize,
// no colour handling, no copies: main() adds the cheaper of the two ways to make the full
// image (requantised, the sizes then decoding on their own; or encoded from the one
// decode the sizes share) and compares with the full image alone.
// (The product's raw-plane path works on libjpeg's YCbCr planes, with no RGB, and so
// goes below this floor.)
struct SizesFloor {
  double decode_s = 0;
  double encodes_s = 0;
  double resize_s = 0;  // libvips' resize, as the product calls it: not part of the floor
};

SizesFloor sizes_floor(const std::string& input,
                       const std::vector<imgbatch::core::OutputSize>& sizes) {
  const vips::VImage header = vips::VImage::new_from_buffer(input, "");
  const int width = header.width(), height = header.height();
  std::vector<std::pair<int, int>> made;  // the sizes smaller than the full image
  int largest_width = 0, largest_height = 0;
  for (const auto& size : sizes) {
    const double scale = std::min(
        {1.0, static_cast<double>(size.width) / width, static_cast<double>(size.height) / height});
    const int w = std::max(1, static_cast<int>(std::lround(width * scale)));
    const int h = std::max(1, static_cast<int>(std::lround(height * scale)));
    if (w == width && h == height) continue;
    made.emplace_back(w, h);
    largest_width = std::max(largest_width, w);
    largest_height = std::max(largest_height, h);
  }
  if (made.empty()) return {};
  int shrink = 8;  // libjpeg rounds the scaled sides up
  while (shrink > 1 && ((width + shrink - 1) / shrink < largest_width ||
                        (height + shrink - 1) / shrink < largest_height))
    shrink /= 2;
  const auto decode = [&] {
    return vips::VImage::new_from_buffer(input, "", vips::VImage::option()->set("shrink", shrink))
        .copy_memory();
  };
  // Timed apart: the resize as the product does it (linear, largest size first, each from
  // the smallest image made that covers it), from the shrunk decode, the cheapest source
  // either way of making the full image has.
  const vips::VImage decoded = decode();
  std::sort(made.begin(), made.end(), [](const auto& a, const auto& b) {
    return static_cast<long>(a.first) * a.second > static_cast<long>(b.first) * b.second;
  });
  std::vector<vips::VImage> resized;
  const double resize_start = cpu_seconds();
  for (const auto& [w, h] : made) {
    const vips::VImage& from = resized.empty() ? decoded : resized.back();
    resized.push_back(from.resize(static_cast<double>(w) / from.width(),
                                  vips::VImage::option()
                                      ->set("vscale", static_cast<double>(h) / from.height())
                                      ->set("kernel", VIPS_KERNEL_LINEAR))
                          .copy_memory());
  }
  const double resize_s = cpu_seconds() - resize_start;
  const bool full_decodes_anyway = !imgbatch::imaging::dct_eligible(input, {});
  SizesFloor floor;
  floor.resize_s = resize_s;
  const double start = cpu_seconds();
  if (!full_decodes_anyway) decode();
  floor.decode_s = cpu_seconds() - start;
  for (const auto& image : resized) {
    void* buffer = nullptr;
    size_t length = 0;
    if (vips_jpegsave_buffer(image.get_image(), &buffer, &length, "Q", 50, "strip", TRUE,
                             "optimize_coding", TRUE, "interlace", FALSE, nullptr) != 0)
      throw std::runtime_error(std::string("floor encode: ") + vips_error_buffer());
    g_free(buffer);
  }
  floor.encodes_s = cpu_seconds() - start - floor.decode_s;
  return floor;
}

}  // namespace

int main(int argc, char** argv) {
  ProcessTuning tuning;
  int rounds = 2;
  std::int64_t cap = 150'000;
  std::string dump;
  bool compare = false;
  int sizes_only = 0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--metric") {
      if (value() == "butteraugli") tuning.distance = butteraugli;
    } else if (arg == "--reduce") {
      tuning.metric_reduce = std::stoi(value());
    } else if (arg == "--tolerance") {
      tuning.tolerance = std::stoi(value());
    } else if (arg == "--rounds") {
      rounds = std::max(1, std::stoi(value()));
    } else if (arg == "--cap") {
      cap = std::stoll(value());
    } else if (arg == "--pixel-metric") {
      tuning.pixel_metric = true;
    } else if (arg == "--compare-pixel-metric") {
      compare = true;
    } else if (arg == "--dump") {
      dump = value();
    } else if (arg == "--full-from-planes") {
      tuning.full_from_planes = true;
    } else if (arg == "--sizes-only") {
      sizes_only = std::max(1, std::stoi(value()));
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: quality_auto [options] FILE...\n");
    return 2;
  }
  imgbatch::imaging::init_vips(argv[0]);
  const char* metric = tuning.distance ? "butteraugli" : "ssim";
  const bool higher_better = !tuning.distance;

  std::vector<std::string> inputs;
  for (const auto& file : files) inputs.push_back(read_file(file));

  ProcessOptions sized;
  sized.quality.fixed = 50;
  sized.never_larger = false;
  sized.sizes = {{"thumb", 200, 200}, {"card", 600, 600}, {"zoom", 2000, 2000}};
  if (sizes_only > 0) {  // nothing else runs: a profiler sees only the sizes variant
    double cpu = 0;
    for (int round = 0; round < sizes_only; ++round)
      for (std::size_t i = 0; i < inputs.size(); ++i)
        cpu += run(inputs[i], sized, tuning, files[i]).cpu_s;
    std::printf("quality_auto sizes_only cpu_ms_per_image=%.1f over %d round(s)\n",
                cpu / static_cast<double>(inputs.size() * sizes_only) * 1000, sizes_only);
    return 0;
  }

  // Calibration: the product's score of fixed quality 50 on every photo.
  ProcessOptions fixed;
  fixed.quality.fixed = 50;
  fixed.never_larger = false;  // the figures compare encodes, not kept sources
  ProcessTuning scoring = tuning;
  scoring.always_score = true;
  double target = higher_better ? 1.0 : 0.0;
  std::vector<double> fixed_scores;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Run r = run(inputs[i], fixed, scoring, files[i]);
    const double score = r.outputs.front().report.score.value_or(0);
    fixed_scores.push_back(score);
    target = higher_better ? std::min(target, score) : std::max(target, score);
  }
  std::printf(
      "quality_auto calibration metric=%s reduce=%d S=%.5f (worst fixed-50 score of %zu photos)\n",
      metric, tuning.metric_reduce, target, inputs.size());

  ProcessOptions automatic = fixed;
  automatic.quality.automatic = true;
  automatic.quality.target = target;

  // Every variant on every photo, alternating, --rounds times; bytes from the last round.
  double cpu_fixed = 0, cpu_auto = 0, cpu_sized = 0, cpu_decoded = 0, cpu_floor = 0,
         cpu_floor_resized = 0;
  std::int64_t bytes_fixed = 0, bytes_auto = 0;
  int met = 0, trials = 0;
  double worst_auto = higher_better ? 1.0 : 0.0;
  for (int round = 0; round < rounds; ++round) {
    const bool last = round + 1 == rounds;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Run f = run(inputs[i], fixed, tuning, files[i]);
      const Run a = run(inputs[i], automatic, tuning, files[i]);
      const Run s = run(inputs[i], sized, tuning, files[i]);
      cpu_fixed += f.cpu_s;
      cpu_auto += a.cpu_s;
      cpu_sized += s.cpu_s;
      // The full image alone as a decode and an encode (compress() without its DCT-domain
      // path): what a size is measured against when the full image is made from pixels.
      const double before = cpu_seconds();
      if (!imgbatch::imaging::compress_full(inputs[i], {}))
        throw std::runtime_error(files[i] + ": the full path failed");
      const double decoded_s = cpu_seconds() - before;
      cpu_decoded += decoded_s;
      const SizesFloor least = sizes_floor(inputs[i], sized.sizes);
      // Full + sizes at the floor, the cheaper way: the sizes decoding on their own beside
      // the requantised full image, or sharing the full image's decode.
      const double floor_s = std::min(f.cpu_s + least.decode_s, decoded_s) + least.encodes_s;
      cpu_floor += floor_s;
      cpu_floor_resized += floor_s + least.resize_s;
      if (!last) continue;
      const auto& report = a.outputs.front().report;
      const double score = report.score.value_or(higher_better ? 0 : 99);
      const bool meets = higher_better ? score >= target : score <= target;
      met += meets ? 1 : 0;
      trials += a.trials;
      worst_auto = higher_better ? std::min(worst_auto, score) : std::max(worst_auto, score);
      bytes_fixed += total_bytes(f);
      bytes_auto += total_bytes(a);
      const std::string name = std::filesystem::path(files[i]).stem().string();
      std::printf(
          "quality_auto photo=%s fixed50_bytes=%lld fixed50_score=%.4f auto_quality=%d "
          "auto_score=%.4f auto_bytes=%lld trials=%d meets=%s fixed_cpu_ms=%.1f "
          "auto_cpu_ms=%.1f sizes_cpu_ms=%.1f sizes_floor_cpu_ms=%.1f (full + sizes)\n",
          name.c_str(), static_cast<long long>(total_bytes(f)), fixed_scores[i], report.quality,
          score, static_cast<long long>(total_bytes(a)), a.trials, meets ? "yes" : "no",
          f.cpu_s * 1000, a.cpu_s * 1000, s.cpu_s * 1000, floor_s * 1000);
      if (!dump.empty()) {
        std::filesystem::create_directories(dump);
        write_file(std::filesystem::path(dump) / (name + ".q50.jpg"),
                   f.outputs.front().encoded.bytes);
        write_file(std::filesystem::path(dump) / (name + ".auto.jpg"),
                   a.outputs.front().encoded.bytes);
      }
    }
  }
  const double n = static_cast<double>(inputs.size()) * rounds;
  std::printf(
      "quality_auto ratio auto_bytes_over_fixed50=%.3f (target <= 0.80) photos_meeting_S=%d/%zu "
      "worst_auto_score=%.4f mean_trials=%.2f\n",
      static_cast<double>(bytes_auto) / static_cast<double>(bytes_fixed), met, inputs.size(),
      worst_auto, static_cast<double>(trials) / static_cast<double>(inputs.size()));
  std::printf(
      "quality_auto ratio auto_cpu_over_fixed=%.2f (target <= 4) "
      "sizes3_plus_full_cpu_over_full=%.2f "
      "(target <= 1.6) cpu_ms_per_image fixed=%.1f auto=%.1f sizes=%.1f over %d round(s)\n",
      cpu_auto / cpu_fixed, cpu_sized / cpu_fixed, cpu_fixed / n * 1000, cpu_auto / n * 1000,
      cpu_sized / n * 1000, rounds);
  std::printf(
      "quality_auto ratio sizes3_plus_full_cpu_over_decoded_full=%.2f (the full image alone "
      "decoded and encoded, no DCT-domain path: %.1f ms)\n",
      cpu_sized / cpu_decoded, cpu_decoded / n * 1000);
  std::printf(
      "quality_auto ratio sizes3_plus_full_floor_over_full=%.2f (the full image and three "
      "sizes with nothing but the decode and the encodes they need, no resize, no overhead, "
      "the cheaper of requantised or decoded full image: %.1f ms; nothing that decodes to "
      "RGB and encodes with libvips goes below it; the product's raw-plane path, on "
      "libjpeg's YCbCr planes, does)\n",
      cpu_floor / cpu_fixed, cpu_floor / n * 1000);
  std::printf(
      "quality_auto ratio sizes3_plus_full_floor_with_vips_resize_over_full=%.2f (the floor plus "
      "libvips' resize as the product calls it, from the shrunk decode: %.1f ms)\n",
      cpu_floor_resized / cpu_fixed, cpu_floor_resized / n * 1000);

  // The coefficient SSIM's choices against those of trials written, decoded and compared on
  // the whole picture, at the same target, both searched to the exact lowest quality.
  if (compare) {
    ProcessTuning pixel = tuning;
    pixel.pixel_metric = true;
    pixel.tolerance = 1;
    int same = 0, adjacent = 0, largest = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const int product =
          run(inputs[i], automatic, tuning, files[i]).outputs.front().report.quality;
      const int decoded = run(inputs[i], automatic, pixel, files[i]).outputs.front().report.quality;
      const int difference = std::abs(product - decoded);
      same += difference == 0 ? 1 : 0;
      adjacent += difference == 1 ? 1 : 0;
      largest = std::max(largest, difference);
      std::printf(
          "quality_auto compare photo=%s coefficient_ssim_quality=%d decoded_ssim_quality=%d\n",
          std::filesystem::path(files[i]).stem().c_str(), product, decoded);
    }
    std::printf(
        "quality_auto compare same_quality=%d/%zu one_step_apart=%d largest_difference=%d\n", same,
        inputs.size(), adjacent, largest);
  }

  // max_bytes: fixed quality 80 under the cap.
  ProcessOptions capped = fixed;
  capped.quality.fixed = 80;
  capped.max_bytes = cap;
  std::vector<int> qualities;
  int under = 0, failed = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto outputs = imgbatch::imaging::process(inputs[i], capped);
    if (!outputs) {
      ++failed;
      std::printf("quality_auto max_bytes photo=%s failed: %s\n", files[i].c_str(),
                  outputs.error().message.c_str());
      continue;
    }
    const auto& report = outputs->front().report;
    qualities.push_back(report.quality);
    under += report.bytes_out <= cap ? 1 : 0;
  }
  std::sort(qualities.begin(), qualities.end());
  const double median =
      qualities.empty() ? 0
      : qualities.size() % 2
          ? qualities[qualities.size() / 2]
          : (qualities[qualities.size() / 2 - 1] + qualities[qualities.size() / 2]) / 2.0;
  std::printf(
      "quality_auto max_bytes cap=%lld asked_quality=80 outputs_under_cap=%d/%zu unreachable=%d "
      "median_quality=%.1f\n",
      static_cast<long long>(cap), under, qualities.size(), failed, median);
  return 0;
}
