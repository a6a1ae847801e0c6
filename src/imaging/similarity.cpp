#include "similarity.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <vips/vips8>

#include "vips_support.hpp"

namespace imgbatch::imaging::impl {
namespace {

using vips::VImage;

// SSIM's constants for 8-bit data: (K L)^2 with L = 255.
constexpr double kC1 = (0.01 * 255) * (0.01 * 255);
constexpr double kC2 = (0.03 * 255) * (0.03 * 255);
constexpr double kSigma = 1.5;

// A borrowed VipsImage as a VImage (which unrefs on destruction: take a reference).
VImage borrow(VipsImage* image) {
  g_object_ref(image);
  return VImage(image);
}

VImage luma(VImage image, int reduce) {
  if (reduce > 1) image = image.shrink(reduce, reduce);
  if (image.bands() >= 3) {
    image = image.extract_band(0, VImage::option()->set("n", 3))
                .recomb(VImage::new_matrixv(3, 1, 0.299, 0.587, 0.114));
  } else {
    image = image.extract_band(0).cast(VIPS_FORMAT_FLOAT);
  }
  return image;
}

VImage blur(const VImage& image) {
  return image.gaussblur(kSigma, VImage::option()->set("precision", VIPS_PRECISION_FLOAT));
}

}  // namespace

struct SsimReference::State {
  int reduce = 1;
  VImage x, mx, xx;  // luma, its local mean, local mean of its square; all in memory
};

std::optional<SsimReference> SsimReference::make(VipsImage* reference, int reduce) {
  try {
    auto state = std::make_shared<State>();
    state->reduce = std::max(1, reduce);
    // In memory: libvips pipelines recompute shared inputs for every consumer.
    state->x = luma(borrow(reference), state->reduce).copy_memory();
    state->mx = blur(state->x).copy_memory();
    state->xx = blur(state->x * state->x).copy_memory();
    SsimReference made;
    made.state_ = std::move(state);
    return made;
  } catch (const vips::VError&) {
    discard_vips_error();
    return std::nullopt;
  }
}

std::optional<double> SsimReference::score(VipsImage* candidate) const {
  try {
    const State& s = *state_;
    // Not copied to memory: recomputing the luma for its three consumers cost no more
    // CPU than a copy (bench/quality_auto) and saves a float plane.
    const VImage y = luma(borrow(candidate), s.reduce);
    // Local means, variances and covariance; the map is pulled once, by avg().
    const VImage my = blur(y);
    const VImage sxx = s.xx - s.mx * s.mx;
    const VImage syy = blur(y * y) - my * my;
    const VImage sxy = blur(s.x * y) - s.mx * my;
    const VImage map = ((2 * s.mx * my + kC1) * (2 * sxy + kC2)) /
                       ((s.mx * s.mx + my * my + kC1) * (sxx + syy + kC2));
    return map.avg();
  } catch (const vips::VError&) {
    discard_vips_error();
    return std::nullopt;
  }
}

std::optional<double> ssim(VipsImage* reference, VipsImage* candidate, int reduce) {
  const auto prepared = SsimReference::make(reference, reduce);
  if (!prepared) return std::nullopt;
  return prepared->score(candidate);
}

}  // namespace imgbatch::imaging::impl
