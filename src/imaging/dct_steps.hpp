// How the DCT-domain path moves a quantised coefficient from the input's table onto the
// output's: shared by the requantiser (dct_requantise.cpp), which writes the result, and
// the coefficient SSIM (coefficient_ssim.cpp), which scores it without writing anything,
// so that the score is exactly that of the file the requantiser would write.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace imgbatch::imaging::impl {

// How one coefficient position moves from `from` to `to`: magnitude = floor(|c| * from / to
// + r) computed exactly in integers as ((|c| * from + bias) * reciprocal) >> 32, with
// bias = floor(r * to) (|c| * from is an integer, so adding r or floor(r * to) / to
// crosses the same integers) and reciprocal = ceil(2^32 / to). With |c| <= 32768 and both
// steps <= 255 the numerator is below 2^24, so the reciprocal's excess (below 2^-8) never
// reaches the next integer (the fraction of a quotient by `to` is at most 1 - 1/255). A
// division per coefficient made requantising a q100 photo cost more than decoding it.
struct Step {
  std::uint32_t from;
  std::uint32_t bias;
  std::uint64_t reciprocal;
};

inline constexpr unsigned kMaxStep = 255;

// `rounding` is kept within [0, 1): a zero coefficient must stay zero.
inline Step step_for(unsigned from, unsigned to, double rounding) {
  return {from, static_cast<std::uint32_t>(std::clamp(rounding, 0.0, 0.999) * to),
          ((std::uint64_t{1} << 32) + to - 1) / to};
}

// The step of coefficient position k (0: DC) under the rounding rule of kDctRounding
// (dct_requantise.hpp): nearest for DC and where the input's step is at least as coarse,
// `coarsening_rounding` for AC coefficients the requantiser coarsens.
inline Step position_step(int k, unsigned from, unsigned to, double coarsening_rounding) {
  return step_for(from, to, k != 0 && from < to ? coarsening_rounding : 0.5);
}

// Branch-free: the sign of an AC coefficient is a coin toss, and a mispredicted branch on
// it cost a third of the time. `largest` collects the largest magnitude written.
inline std::int16_t requantised(std::int16_t c, const Step& step, std::uint32_t& largest) {
  const int value = c;
  const int sign = value < 0 ? -1 : 0;
  const auto magnitude_in = static_cast<std::uint32_t>((value ^ sign) - sign);
  const std::uint64_t scaled =
      std::uint64_t{magnitude_in * step.from + step.bias} * step.reciprocal;
  const auto magnitude = static_cast<std::uint32_t>(scaled >> 32);
  largest = std::max(largest, magnitude);
  return static_cast<std::int16_t>((static_cast<int>(magnitude) ^ sign) - sign);
}

// The quantisation table libjpeg's jpeg_set_quality(quality, force_baseline = TRUE) puts in
// slot `slot` (0: luma, 1: chroma), in natural (row-major) order: what libvips' jpegsave
// and the requantiser write.
std::array<std::uint16_t, 64> standard_table(int quality, int slot);

}  // namespace imgbatch::imaging::impl
