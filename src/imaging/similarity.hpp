// How close an encoded output looks to the source it came from, for `quality=auto`
// (process.hpp): SSIM built from libvips operations. libjxl's butteraugli, measured
// against it (BENCHMARKS.md, "Quality targets and sizes"), lives in bench/quality_auto.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <vips/vips.h>

namespace imgbatch::imaging::impl {

// SSIM's constants for 8-bit data: (K L)^2 with K1 0.01, K2 0.03, L = 255.
inline constexpr double kSsimC1 = (0.01 * 255) * (0.01 * 255);
inline constexpr double kSsimC2 = (0.03 * 255) * (0.03 * 255);

// The 1-D Gaussian window (sigma 1.5) of libvips' gaussblur at float precision (gaussmat's
// default min_ampl 0.2: 5 taps), normalised to sum 1. Every SSIM of the product uses it.
std::vector<float> ssim_window_taps();

// The reference side of ssim(), computed once and held in memory for the trial encodes
// of one output: its luma, local mean and local variance (box-shrunk by `reduce`).
class SsimReference {
 public:
  // nullopt if libvips fails.
  static std::optional<SsimReference> make(VipsImage* reference, int reduce);
  // SSIM of `candidate` (the same size as the reference before reduction) against it.
  std::optional<double> score(VipsImage* candidate) const;

 private:
  SsimReference() = default;
  struct State;
  std::shared_ptr<const State> state_;
};

// Mean SSIM of the luma (Rec. 601 weights) of two images of the same size, 8-bit, 1 or 3
// bands (Wang et al. 2004: Gaussian window, sigma 1.5, K1 0.01, K2 0.03). Both are first
// box-shrunk by `reduce` (1: full size). 1 is identical; nullopt if libvips fails (the
// reason is dropped: a metric failure is a bug, and the caller falls back on quality).
std::optional<double> ssim(VipsImage* reference, VipsImage* candidate, int reduce = 1);

}  // namespace imgbatch::imaging::impl
