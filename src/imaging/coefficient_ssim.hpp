// The score of `quality=auto` for a JPEG whose full-size output is a DCT-domain
// requantisation (dct_requantise.hpp), without writing or decoding any trial: the SSIM of
// similarity.hpp (luma, Gaussian window sigma 1.5, K1 0.01, K2 0.03) of the file
// requantise_jpeg(source, quality) would write, against the source, computed from the
// source's luma coefficients. A trial moves them onto the quality's table by the
// requantiser's own rule (dct_steps.hpp) and takes the inverse DCT of the luma blocks:
// no entropy coding, no chroma, no colour conversion, which made a trial cost several
// requantisations when it went through a written and decoded file.
//
// It is computed on a sample of the picture: tiles of 5x5 luma blocks (plus a column and
// a row of tiles against the right and bottom edges, weighted by the strip they add), one
// tile in kTileEvery spread in a diagonal pattern, each scored on the 32x32 square half a
// block in (every position relative to the block grid, where JPEG's artefacts sit, counts
// equally; the window's neighbours are the tile's own pixels). BENCHMARKS.md ("Quality
// targets and sizes") compares its scores and choices with the full-image SSIM of decoded
// pixels. From quality 90 on the full path writes the output (4:4:4 chroma): the score is
// then that of its luma requantised, a close estimate.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include <vips/vips.h>

namespace imgbatch::imaging::impl {

// `every`: one tile in how many is scored (0: kTileEvery of the .cpp; 1: the whole
// picture, for tests and bench/quality_auto).
class CoefficientSsim {
 public:
  // nullopt when requantise_jpeg() would not take `jpeg` (layout, damaged data) or the
  // picture is smaller than one tile; the caller then scores decoded pixels.
  static std::optional<CoefficientSsim> read(std::string_view jpeg, int every = 0);

  // For pixels libvips' jpegsave encodes (8-bit, 1 or 3 bands, in memory): their luma's
  // transform, quantised per trial as libjpeg's encoder does. nullopt for other images or
  // when smaller than one tile.
  static std::optional<CoefficientSsim> from_pixels(VipsImage* image, int every = 0);

  // The SSIM against the source of requantise_jpeg(jpeg, quality), or of jpegsave of the
  // pixels at `quality`, in (-1, 1].
  double score(int quality) const;

  std::size_t sampled_tiles() const;

 private:
  CoefficientSsim() = default;
  struct State;
  std::shared_ptr<const State> state_;
};

}  // namespace imgbatch::imaging::impl
