#include "similarity.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <vips/vips8>

#include "vips_support.hpp"

namespace imgbatch::imaging::impl {
namespace {

using vips::VImage;

constexpr double kC1 = kSsimC1;
constexpr double kC2 = kSsimC2;
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

// A float luma plane, row after row.
std::vector<float> plane(const VImage& image) {
  std::vector<float> pixels(static_cast<std::size_t>(image.width()) * image.height());
  size_t length = 0;
  std::unique_ptr<void, decltype(&g_free)> data(
      vips_image_write_to_memory(image.get_image(), &length), &g_free);
  if (!data || length != pixels.size() * sizeof(float)) throw vips::VError();
  std::copy_n(static_cast<const float*>(data.get()), pixels.size(), pixels.data());
  return pixels;
}

}  // namespace

std::vector<float> ssim_window_taps() {
  const VImage mask = VImage::gaussmat(
      kSigma, 0.2,
      VImage::option()->set("separable", true)->set("precision", VIPS_PRECISION_FLOAT));
  std::vector<double> values(static_cast<std::size_t>(mask.width()) * mask.height());
  for (int i = 0; i < static_cast<int>(values.size()); ++i) values[i] = mask(i, 0)[0];
  double sum = 0;
  for (double v : values) sum += v;
  std::vector<float> taps;
  for (double v : values) taps.push_back(static_cast<float>(v / sum));
  return taps;
}

struct SsimReference::State {
  int reduce = 1;
  int width = 0, height = 0;
  std::vector<float> taps;
  // Luma, its local mean and local variance plus C2, row after row.
  std::vector<float> x, mx, sxx_c2;
};

namespace {

// The local moments by the separable Gaussian, rows made one at a time: for each pixel of
// a row, `values` gives the channels to blur, and `row_done` receives the blurred row (all
// channels interleaved). Edges repeat the border pixels, as libvips' convsep does. Written
// out rather than libvips' gaussblur: its float convolution took 0.1 s a 4 MP plane, most
// of a trial's CPU, and the moments were three planes per trial.
template <int kChannels, typename Values, typename RowDone>
void blur_rows(int width, int height, const std::vector<float>& taps, Values values,
               RowDone row_done) {
  const int radius = static_cast<int>(taps.size()) / 2;
  const int ring_rows = 2 * radius + 1;
  std::vector<float> ring(static_cast<std::size_t>(ring_rows) * width * kChannels);
  std::vector<float> source(static_cast<std::size_t>(width) * kChannels);
  std::vector<float> out(static_cast<std::size_t>(width) * kChannels);
  int made = -1;  // the last source row blurred horizontally into the ring
  auto make_row = [&](int row) {
    float* dst = &ring[static_cast<std::size_t>(row % ring_rows) * width * kChannels];
    values(row, source.data());
    for (int col = 0; col < width; ++col) {
      float sum[kChannels] = {};
      for (int t = 0; t < ring_rows; ++t) {
        const int c = std::clamp(col + t - radius, 0, width - 1);
        for (int k = 0; k < kChannels; ++k) sum[k] += taps[t] * source[c * kChannels + k];
      }
      for (int k = 0; k < kChannels; ++k) dst[col * kChannels + k] = sum[k];
    }
  };
  for (int row = 0; row < height; ++row) {
    while (made < std::min(height - 1, row + radius)) make_row(++made);
    std::fill(out.begin(), out.end(), 0.0f);
    for (int t = 0; t < ring_rows; ++t) {
      const int r = std::clamp(row + t - radius, 0, height - 1);
      const float* src = &ring[static_cast<std::size_t>(r % ring_rows) * width * kChannels];
      for (int i = 0; i < width * kChannels; ++i) out[i] += taps[t] * src[i];
    }
    row_done(row, out.data());
  }
}

}  // namespace

std::optional<SsimReference> SsimReference::make(VipsImage* reference, int reduce) {
  try {
    auto state = std::make_shared<State>();
    state->reduce = std::max(1, reduce);
    state->taps = ssim_window_taps();
    const VImage x = luma(borrow(reference), state->reduce);
    state->width = x.width();
    state->height = x.height();
    state->x = plane(x);
    const std::size_t area = state->x.size();
    state->mx.resize(area);
    state->sxx_c2.resize(area);
    const int width = state->width;
    const float* xs = state->x.data();
    blur_rows<2>(
        width, state->height, state->taps,
        [&](int row, float* values) {
          for (int col = 0; col < width; ++col) {
            const float v = xs[static_cast<std::size_t>(row) * width + col];
            values[2 * col] = v;
            values[2 * col + 1] = v * v;
          }
        },
        [&](int row, const float* blurred) {
          for (int col = 0; col < width; ++col) {
            const std::size_t i = static_cast<std::size_t>(row) * width + col;
            const double mean = blurred[2 * col];
            state->mx[i] = static_cast<float>(mean);
            state->sxx_c2[i] = static_cast<float>(blurred[2 * col + 1] - mean * mean + kC2);
          }
        });
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
    const std::vector<float> y = plane(luma(borrow(candidate), s.reduce));
    if (y.size() != s.x.size()) return std::nullopt;
    const int width = s.width;
    double sum = 0;
    blur_rows<3>(
        width, s.height, s.taps,
        [&](int row, float* values) {
          const std::size_t base = static_cast<std::size_t>(row) * width;
          for (int col = 0; col < width; ++col) {
            const float v = y[base + col];
            values[3 * col] = v;
            values[3 * col + 1] = v * v;
            values[3 * col + 2] = s.x[base + col] * v;
          }
        },
        [&](int row, const float* m) {
          const std::size_t base = static_cast<std::size_t>(row) * width;
          double line = 0;
          for (int col = 0; col < width; ++col) {
            const double mu_x = s.mx[base + col], mu_y = m[3 * col];
            const double syy = m[3 * col + 1] - mu_y * mu_y;
            const double sxy = m[3 * col + 2] - mu_x * mu_y;
            line += ((2 * mu_x * mu_y + kC1) * (2 * sxy + kC2)) /
                    ((mu_x * mu_x + mu_y * mu_y + kC1) * (s.sxx_c2[base + col] + syy));
          }
          sum += line;
        });
    // The variances are float differences E[y²] − E[y]²: their rounding can lift a score
    // a hair above 1 (1.000017 on a photo against itself), which is no SSIM.
    return std::min(1.0, sum / static_cast<double>(s.x.size()));
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
