#include "coefficient_ssim.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "dct_requantise.hpp"
#include "dct_steps.hpp"
#include "similarity.hpp"
#include "vips_support.hpp"

namespace imgbatch::imaging::impl {
namespace {

constexpr int kBlock = 8;
constexpr int kBlockArea = kBlock * kBlock;
constexpr int kTileBlocks = 5;
constexpr int kTile = kTileBlocks * kBlock;  // pixels a side
constexpr int kTileArea = kTile * kTile;
constexpr int kBlocksPerTile = kTileBlocks * kTileBlocks;
// The scored square of a tile: 4 blocks' worth starting half a block in, so that every
// position relative to the block grid counts equally (JPEG's errors are largest next to
// block edges: a square that left out the tile's outer edges read 0.002-0.004 high), and
// the window (radius 2) has the tile's own pixels around every scored pixel.
constexpr int kScoredOffset = kBlock / 2;
constexpr int kScored = 4 * kBlock;
constexpr int kScoredArea = kScored * kScored;
// One tile in this many is scored. A quarter of the picture: on the photos of
// tests/unit/imaging/coefficient_ssim_test.cpp the estimate then lies within +0.0007 and
// -0.003 of the whole picture's decoded SSIM (one in nine: up to +0.003, too optimistic for
// a target), and a trial of a 4 MP photo costs a few milliseconds.
constexpr int kTileEvery = 4;
// Below this many sampled tiles (small pictures), every tile is scored: cheap anyway, and
// a handful of tiles would not stand for the picture.
constexpr std::size_t kMinSampledTiles = 32;

// The orthonormal 8-point DCT basis of JPEG: basis[x][u] = C(u) / 2 cos((2x + 1) u pi / 16)
// with C(0) = 1 / sqrt(2), C(u) = 1 otherwise; a block's pixels are
// basis * coefficients * basis^T, plus JPEG's level shift of 128.
using Basis = std::array<std::array<float, kBlock>, kBlock>;

const Basis& dct_basis() {
  static const Basis basis = [] {
    Basis made{};
    for (int x = 0; x < kBlock; ++x) {
      for (int u = 0; u < kBlock; ++u) {
        const double scale = u == 0 ? std::sqrt(0.125) : 0.5;
        made[x][u] = static_cast<float>(scale * std::cos((2 * x + 1) * u * std::numbers::pi / 16));
      }
    }
    return made;
  }();
  return basis;
}

// The pixels of one block (dequantised coefficients in natural order) into `pixels` at
// `stride`, rounded and clamped to 0-255 as a decoder does: unrounded, the estimate ran
// up to 0.003 high at high qualities, where the decoder's rounding is most of the error.
// Rows of coefficients that are all zero (most of them, once quantised) are skipped.
void inverse_dct(const float* coefficients, float* pixels, int stride) {
  const Basis& basis = dct_basis();
  float rows[kBlock][kBlock];  // rows[v][x]: the horizontal pass of the rows that count
  int used[kBlock];
  int count = 0;
  for (int v = 0; v < kBlock; ++v) {
    const float* in = coefficients + v * kBlock;
    bool zero = true;
    for (int u = 0; u < kBlock; ++u) zero = zero && in[u] == 0.0f;
    if (zero) continue;
    for (int x = 0; x < kBlock; ++x) {
      float sum = 0;
      for (int u = 0; u < kBlock; ++u) sum += in[u] * basis[x][u];
      rows[count][x] = sum;
    }
    used[count++] = v;
  }
  for (int y = 0; y < kBlock; ++y) {
    float* out = pixels + static_cast<std::ptrdiff_t>(y) * stride;
    float line[kBlock];
    for (int x = 0; x < kBlock; ++x) line[x] = 128.0f;
    for (int r = 0; r < count; ++r) {
      const float weight = basis[y][used[r]];
      for (int x = 0; x < kBlock; ++x) line[x] += weight * rows[r][x];
    }
    for (int x = 0; x < kBlock; ++x) out[x] = std::clamp(std::nearbyint(line[x]), 0.0f, 255.0f);
  }
}

// The coefficients of one block of pixels (at `stride`), level-shifted as JPEG's encoder
// does, in natural order: the transpose of inverse_dct(), in float where libjpeg's integer
// transform is within a fraction of a step of it.
void forward_dct(const float* pixels, int stride, float* coefficients) {
  const Basis& basis = dct_basis();
  float columns[kBlock][kBlock];  // columns[y][u]: the horizontal pass
  for (int y = 0; y < kBlock; ++y) {
    const float* row = pixels + static_cast<std::ptrdiff_t>(y) * stride;
    for (int u = 0; u < kBlock; ++u) {
      float sum = 0;
      for (int x = 0; x < kBlock; ++x) sum += (row[x] - 128.0f) * basis[x][u];
      columns[y][u] = sum;
    }
  }
  for (int v = 0; v < kBlock; ++v) {
    for (int u = 0; u < kBlock; ++u) {
      float sum = 0;
      for (int y = 0; y < kBlock; ++y) sum += basis[y][v] * columns[y][u];
      coefficients[v * kBlock + u] = sum;
    }
  }
}

// Where tiles start along one side of `blocks` whole blocks, in blocks, with the share of a
// tile's width each stands for: every kTileBlocks (1), and one more against the far edge
// when whole tiles leave a strip of blocks there. That one overlaps the tile before and
// stands for the strip only (strip / kTileBlocks). Without it, up to 39 pixels along the
// right and bottom were never scored: a fifth of a 240x150 size, whose estimate then read
// up to 0.033 high at quality 10; counted whole, the edge tile weighed a strip of one
// block as five.
std::vector<std::pair<int, float>> tile_starts(int blocks) {
  std::vector<std::pair<int, float>> starts;
  int start = 0;
  for (; start + kTileBlocks <= blocks; start += kTileBlocks) starts.emplace_back(start, 1.0f);
  if (!starts.empty() && start < blocks)
    starts.emplace_back(blocks - kTileBlocks, static_cast<float>(blocks - start) / kTileBlocks);
  return starts;
}

struct Tile {
  int column, row;  // of its first block
  float weight;     // the share of the picture it stands for, relative to a whole tile
};

// Which tiles of a picture of `width_blocks` x `height_blocks` whole blocks are scored.
std::vector<Tile> sampled_tiles_of(int width_blocks, int height_blocks, int every) {
  const auto across = tile_starts(width_blocks), down = tile_starts(height_blocks);
  std::vector<Tile> chosen;
  // A diagonal pattern: row j starts 3 j tiles further along, so sampled tiles do not
  // stack in columns.
  for (std::size_t j = 0; j < down.size(); ++j) {
    for (std::size_t i = 0; i < across.size(); ++i) {
      if ((i + 3 * j) % static_cast<std::size_t>(every) == 0)
        chosen.push_back({across[i].first, down[j].first, across[i].second * down[j].second});
    }
  }
  if (chosen.size() < kMinSampledTiles) {
    chosen.clear();
    for (const auto& [row, height] : down) {
      for (const auto& [column, width] : across) chosen.push_back({column, row, width * height});
    }
  }
  return chosen;
}

// Whether libvips' window leaves the scored square inside the tile (it is 5 taps; a libvips
// that made it wider would need wider tiles, and gets the pixel metric meanwhile).
bool window_fits() {
  static const bool fits = static_cast<int>(ssim_window_taps().size()) / 2 <= kScoredOffset;
  return fits;
}

// A tile's pixels from its blocks of dequantised coefficients.
void tile_pixels(const float* coefficients, float* pixels) {
  for (int b = 0; b < kBlocksPerTile; ++b) {
    const int row = b / kTileBlocks, column = b % kTileBlocks;
    inverse_dct(coefficients + static_cast<std::ptrdiff_t>(b) * kBlockArea,
                pixels + static_cast<std::ptrdiff_t>(row) * kBlock * kTile + column * kBlock,
                kTile);
  }
}

// The Gaussian-weighted local sums of a tile's plane (kTileArea values) at its scored
// pixels (kScoredArea values, row after row). Separable, each pass a run of contiguous
// multiply-adds the compiler vectorises.
void blur_tile(const std::vector<float>& taps, const float* plane, float* result) {
  const int radius = static_cast<int>(taps.size()) / 2;  // at most kScoredOffset
  std::array<float, kTile * kScored> across{};           // every row, the scored columns
  for (int y = 0; y < kTile; ++y) {
    float* out = &across[static_cast<std::size_t>(y) * kScored];
    for (int t = 0; t < static_cast<int>(taps.size()); ++t) {
      const float* in = plane + static_cast<std::ptrdiff_t>(y) * kTile + kScoredOffset - radius + t;
      const float weight = taps[t];
      for (int x = 0; x < kScored; ++x) out[x] += weight * in[x];
    }
  }
  std::fill(result, result + kScoredArea, 0.0f);
  for (int y = 0; y < kScored; ++y) {
    float* out = result + static_cast<std::ptrdiff_t>(y) * kScored;
    for (int t = 0; t < static_cast<int>(taps.size()); ++t) {
      const float* in = &across[static_cast<std::size_t>(kScoredOffset + y - radius + t) * kScored];
      const float weight = taps[t];
      for (int x = 0; x < kScored; ++x) out[x] += weight * in[x];
    }
  }
}

}  // namespace

struct CoefficientSsim::State {
  // How a trial is made from the source's coefficients: requantised, as requantise_jpeg()
  // moves a JPEG's quantised coefficients (`quantised`, on steps `table`), or quantised, as
  // libjpeg's encoder quantises the transform of pixels (`transformed`). 25 blocks of 64 a
  // tile.
  bool requantise = false;
  std::array<std::uint16_t, kBlockArea> table{};
  std::vector<std::int16_t> quantised;
  std::vector<float> transformed;
  std::vector<float> taps;
  std::size_t tiles = 0;
  std::vector<float> weights;  // per sampled tile (Tile::weight)
  double total_weight = 0;
  // Per sampled tile: its pixels; at each scored pixel, the local mean and the local
  // variance plus C2.
  std::vector<float> x, mx, sxx_c2;

  explicit State(std::size_t tile_count) : taps(ssim_window_taps()), tiles(tile_count) {}

  // The reference side of the next tile.
  void add_reference(const float* pixels, float weight) {
    weights.push_back(weight);
    total_weight += weight;
    x.insert(x.end(), pixels, pixels + kTileArea);
    std::array<float, kTileArea> squares;
    for (int i = 0; i < kTileArea; ++i) squares[i] = pixels[i] * pixels[i];
    std::array<float, kScoredArea> mean, mean_square;
    blur_tile(taps, pixels, mean.data());
    blur_tile(taps, squares.data(), mean_square.data());
    for (int i = 0; i < kScoredArea; ++i) {
      mx.push_back(mean[i]);
      sxx_c2.push_back(static_cast<float>(mean_square[i] - mean[i] * mean[i] + kSsimC2));
    }
  }
};

std::optional<CoefficientSsim> CoefficientSsim::read(std::string_view jpeg, int every) {
  if (!window_fits()) return std::nullopt;
  auto luma = read_luma_coefficients(jpeg);
  if (!luma) return std::nullopt;
  const auto chosen =
      sampled_tiles_of(luma->width / kBlock, luma->height / kBlock, every > 0 ? every : kTileEvery);
  if (chosen.empty()) return std::nullopt;
  auto state = std::make_shared<State>(chosen.size());
  state->requantise = true;
  state->table = luma->table;
  state->quantised.reserve(chosen.size() * kBlocksPerTile * kBlockArea);
  std::array<float, kBlocksPerTile * kBlockArea> dequantised;
  std::array<float, kTileArea> pixels;
  for (const Tile& tile : chosen) {
    for (int b = 0; b < kBlocksPerTile; ++b) {
      const auto row = static_cast<std::size_t>(tile.row + b / kTileBlocks);
      const auto column = static_cast<std::size_t>(tile.column + b % kTileBlocks);
      const std::int16_t* block =
          &luma->blocks[(row * static_cast<std::size_t>(luma->width_in_blocks) + column) *
                        kBlockArea];
      state->quantised.insert(state->quantised.end(), block, block + kBlockArea);
      for (int k = 0; k < kBlockArea; ++k)
        dequantised[b * kBlockArea + k] = static_cast<float>(block[k]) * state->table[k];
    }
    tile_pixels(dequantised.data(), pixels.data());
    state->add_reference(pixels.data(), tile.weight);
  }
  CoefficientSsim made;
  made.state_ = std::move(state);
  return made;
}

std::optional<CoefficientSsim> CoefficientSsim::from_pixels(VipsImage* image, int every) {
  if (!window_fits() || vips_image_get_format(image) != VIPS_FORMAT_UCHAR) return std::nullopt;
  const int bands = vips_image_get_bands(image);
  if (bands != 1 && bands != 3) return std::nullopt;
  // Makes the pixels addressable (they are already in memory for every caller).
  if (vips_image_wio_input(image) != 0) {
    discard_vips_error();
    return std::nullopt;
  }
  const auto chosen =
      sampled_tiles_of(vips_image_get_width(image) / kBlock, vips_image_get_height(image) / kBlock,
                       every > 0 ? every : kTileEvery);
  if (chosen.empty()) return std::nullopt;
  auto state = std::make_shared<State>(chosen.size());
  state->transformed.reserve(chosen.size() * kBlocksPerTile * kBlockArea);
  std::array<float, kTileArea> pixels;
  std::array<float, kBlockArea> block;
  for (const Tile& tile : chosen) {
    for (int y = 0; y < kTile; ++y) {
      const auto* row = static_cast<const unsigned char*>(
          VIPS_IMAGE_ADDR(image, tile.column * kBlock, tile.row * kBlock + y));
      for (int x = 0; x < kTile; ++x) {
        // JPEG's luma (the Y of its YCbCr: Rec. 601 weights), as the encoder makes it.
        pixels[y * kTile + x] =
            bands == 1 ? row[x]
                       : 0.299f * row[3 * x] + 0.587f * row[3 * x + 1] + 0.114f * row[3 * x + 2];
      }
    }
    for (int b = 0; b < kBlocksPerTile; ++b) {
      forward_dct(&pixels[(b / kTileBlocks) * kBlock * kTile + (b % kTileBlocks) * kBlock], kTile,
                  block.data());
      state->transformed.insert(state->transformed.end(), block.begin(), block.end());
    }
    state->add_reference(pixels.data(), tile.weight);
  }
  CoefficientSsim made;
  made.state_ = std::move(state);
  return made;
}

double CoefficientSsim::score(int quality) const {
  const State& s = *state_;
  const std::array<std::uint16_t, 64> target = standard_table(quality, 0);
  std::array<Step, kBlockArea> steps{};
  std::array<float, kBlockArea> inverse_step{};
  for (int k = 0; k < kBlockArea; ++k) {
    if (s.requantise) steps[k] = position_step(k, s.table[k], target[k], kDctRounding);
    inverse_step[k] = 1.0f / static_cast<float>(target[k]);
  }

  std::array<float, kBlocksPerTile * kBlockArea> dequantised;
  std::array<float, kTileArea> y, yy, xy;
  std::array<float, kScoredArea> my, myy, mxy;
  std::uint32_t largest = 0;  // unused: a trial writes nothing
  double sum = 0;
  for (std::size_t t = 0; t < s.tiles; ++t) {
    const std::size_t first = t * kBlocksPerTile * kBlockArea;
    if (s.requantise) {
      const std::int16_t* in = &s.quantised[first];
      for (int k = 0; k < kBlocksPerTile * kBlockArea; ++k) {
        const int position = k % kBlockArea;
        dequantised[k] = static_cast<float>(requantised(in[k], steps[position], largest)) *
                         static_cast<float>(target[position]);
      }
    } else {
      // libjpeg's quantiser: nearest, halves away from zero.
      const float* in = &s.transformed[first];
      for (int k = 0; k < kBlocksPerTile * kBlockArea; ++k) {
        const int position = k % kBlockArea;
        dequantised[k] =
            std::copysign(std::floor(std::fabs(in[k]) * inverse_step[position] + 0.5f), in[k]) *
            static_cast<float>(target[position]);
      }
    }
    tile_pixels(dequantised.data(), y.data());
    const float* x = &s.x[t * kTileArea];
    for (int i = 0; i < kTileArea; ++i) {
      yy[i] = y[i] * y[i];
      xy[i] = x[i] * y[i];
    }
    blur_tile(s.taps, y.data(), my.data());
    blur_tile(s.taps, yy.data(), myy.data());
    blur_tile(s.taps, xy.data(), mxy.data());
    const float* mx = &s.mx[t * kScoredArea];
    const float* sxx_c2 = &s.sxx_c2[t * kScoredArea];
    double tile_sum = 0;
    for (int i = 0; i < kScoredArea; ++i) {
      const float mu_x = mx[i], mu_y = my[i];
      const float syy = myy[i] - mu_y * mu_y;
      const float sxy = mxy[i] - mu_x * mu_y;
      tile_sum += ((2 * mu_x * mu_y + static_cast<float>(kSsimC1)) *
                   (2 * sxy + static_cast<float>(kSsimC2))) /
                  ((mu_x * mu_x + mu_y * mu_y + static_cast<float>(kSsimC1)) * (sxx_c2[i] + syy));
    }
    sum += tile_sum * s.weights[t];
  }
  // The local variances come from float sums of squares up to 255^2, a few thousandths off
  // either way: where the picture is flat they are all there is besides the constants, and
  // a perfect trial scored up to 1.00006. An SSIM is at most 1 (reports show it as it is).
  return std::min(1.0, sum / (s.total_weight * kScoredArea));
}

std::size_t CoefficientSsim::sampled_tiles() const { return state_->tiles; }

}  // namespace imgbatch::imaging::impl
