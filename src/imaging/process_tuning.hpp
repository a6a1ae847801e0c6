// Knobs of process() that only the benchmark turns (bench/quality_auto): which metric
// `quality=auto` uses and at what scale, so the choices of docs/architecture.md
// ("Quality targets") can be measured against their alternatives with the same code.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include <vips/vips.h>

#include "core/failure.hpp"
#include "core/result.hpp"
#include "imaging/process.hpp"

namespace imgbatch::imaging::impl {

struct ProcessTuning {
  // Unset: SSIM (the product's). Set: this distance instead (lower is better, e.g.
  // bench/quality_auto's butteraugli), and QualitySetting::target is then a distance (0
  // still means kDefaultSsimTarget: give one). Kept out of the product so that it does
  // not link the libraries of metrics it only measured.
  std::function<std::optional<double>(VipsImage* reference, VipsImage* candidate)> distance;
  // The box shrink applied to both images before SSIM (1: full size, the product's: a
  // reduced copy did not pick the same qualities, BENCHMARKS.md).
  int metric_reduce = 1;
  // The largest quality step left unresolved by the search (1: exact lowest quality).
  int tolerance = 0;  // 0: the product's kAutoTolerance
  // Report the metric's score for a fixed quality too (calibrating the default target).
  bool always_score = false;
  // Score DCT-domain outputs by writing and decoding each trial, as every other output
  // (the reference the coefficient SSIM's choices are measured against).
  bool pixel_metric = false;
  // The raw-plane path of sizes (raw_planes.hpp) with the full image encoded from the
  // decoded planes instead of requantised in the DCT domain as compress() writes it: 0.34 x
  // less CPU for full + three sizes, 2.3 % more bytes for the full image (26 % on a
  // low-quality source). The product keeps the bytes; the bench measures this.
  bool full_from_planes = false;
  // Counts the metric evaluations of the last process() call on this thread (bench).
  int* trials = nullptr;
};

core::Result<std::vector<ProcessedImage>, core::Failure> process_tuned(
    std::string_view input, const ProcessOptions& options, const ProcessTuning& tuning);

}  // namespace imgbatch::imaging::impl
