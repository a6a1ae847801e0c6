// The coefficient SSIM of quality=auto (coefficient_ssim.hpp) against what it stands for:
// the SSIM of the written output, decoded by libvips, against the decoded source, over
// the whole picture (similarity.hpp's ssim()).
#include "coefficient_ssim.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <vips/vips8>

#include "dct_requantise.hpp"
#include "imaging_test_support.hpp"
#include "similarity.hpp"

namespace imgbatch::imaging::testing {
namespace {

using impl::CoefficientSsim;
using vips::VImage;

double decoded_ssim(const VImage& reference, const std::string& output) {
  const VImage candidate = decode(output);
  const auto score = impl::ssim(reference.get_image(), candidate.get_image());
  EXPECT_TRUE(score.has_value());
  return score.value_or(0);
}

std::string jpegsave(const VImage& image, int quality) {
  void* buffer = nullptr;
  size_t length = 0;
  if (vips_jpegsave_buffer(image.get_image(), &buffer, &length, "Q", quality, "optimize_coding",
                           TRUE, "strip", TRUE, nullptr) != 0)
    throw std::runtime_error(vips_error_buffer());
  std::string bytes(static_cast<const char*>(buffer), length);
  g_free(buffer);
  return bytes;
}

// How far the estimate may lie from the decoded truth: never more than kOptimistic above it
// (the search adds a margin of that order before it calls a target met), at most
// kPessimistic below (a pessimistic estimate only costs bytes). The whole picture is held
// to the same bounds: there the only differences are the decoder's integer transform and
// its rounding of RGB.
constexpr double kOptimistic = 0.0015;
constexpr double kPessimistic = 0.005;

void expect_close(double estimate, double truth) {
  EXPECT_LE(estimate - truth, kOptimistic) << "estimate " << estimate << " truth " << truth;
  EXPECT_GE(estimate - truth, -kPessimistic) << "estimate " << estimate << " truth " << truth;
}

class CoefficientSsimTest : public ImagingTest {};

TEST_F(CoefficientSsimTest, ScoresTheRequantisedFileAsDecodingItWould) {
  // The photos whose estimates lay furthest from the truth, above and below, when the
  // bounds were chosen (of Aqua, GreenMeadow, Garden, RainDrops, LadyBird); few, since the
  // sanitizer build runs this at a quarter of the speed.
  for (const char* name : {"photos/GreenMeadow.jpg", "photos/Garden.jpg", "photos/RainDrops.jpg"}) {
    SCOPED_TRACE(name);
    const std::string input = read_testdata(name);
    const VImage reference = decode(input);
    const auto whole = CoefficientSsim::read(input, 1);
    const auto sampled = CoefficientSsim::read(input);
    ASSERT_TRUE(whole && sampled);
    EXPECT_LT(sampled->sampled_tiles(), whole->sampled_tiles());
    double previous = 0;
    for (const int quality : {10, 25, 50, 80}) {
      SCOPED_TRACE(quality);
      const auto output = impl::requantise_jpeg(input, quality);
      ASSERT_TRUE(output);
      const double truth = decoded_ssim(reference, *output);
      expect_close(whole->score(quality), truth);
      expect_close(sampled->score(quality), truth);
      EXPECT_GT(sampled->score(quality), previous);  // finer steps, closer to the source
      previous = sampled->score(quality);
    }
  }
}

TEST_F(CoefficientSsimTest, ScoresWhatJpegsaveWritesFromPixels) {
  // 4:2:2 JPEGs, which the DCT-domain path does not take: their outputs are encoded from
  // pixels. Quality 92 is past the switch to 4:4:4 chroma; luma is scored the same.
  for (const char* name : {"photos/Dune.jpg", "photos/Blinds.jpg"}) {
    SCOPED_TRACE(name);
    const std::string input = read_testdata(name);
    EXPECT_FALSE(CoefficientSsim::read(input));
    const VImage reference = decode(input).copy_memory();
    const auto whole = CoefficientSsim::from_pixels(reference.get_image(), 1);
    const auto sampled = CoefficientSsim::from_pixels(reference.get_image());
    ASSERT_TRUE(whole && sampled);
    for (const int quality : {10, 50, 92}) {
      SCOPED_TRACE(quality);
      const double truth = decoded_ssim(reference, jpegsave(reference, quality));
      expect_close(whole->score(quality), truth);
      expect_close(sampled->score(quality), truth);
    }
  }
}

TEST_F(CoefficientSsimTest, ScoresSmallPicturesUpToTheirRightAndBottomEdges) {
  // Sizes (thumbnails) are scored from their pixels. Whole tiles of 40 px left a strip of
  // up to 39 px along the right and bottom unscored, a fifth of these: the estimate lay up
  // to 0.033 above the truth at quality 10. With a tile against each edge it is within
  // a few thousandths; few tiles make it looser than for the photos above.
  constexpr double kSmallPictureBound = 0.006;
  for (const char* name : {"photos/Dune.jpg", "photos/2569067123_aca715a2ee_o.jpg"}) {
    SCOPED_TRACE(name);
    const VImage photo = decode(read_testdata(name));
    const VImage small = photo.resize(240.0 / photo.width()).cast(VIPS_FORMAT_UCHAR).copy_memory();
    ASSERT_NE(small.height() % 40, 0);
    const auto estimate = CoefficientSsim::from_pixels(small.get_image());
    ASSERT_TRUE(estimate);
    for (const int quality : {10, 20, 40, 80}) {
      SCOPED_TRACE(quality);
      const double truth = decoded_ssim(small, jpegsave(small, quality));
      EXPECT_NEAR(estimate->score(quality), truth, kSmallPictureBound);
    }
  }
}

TEST_F(CoefficientSsimTest, FlatPicturesScoreAtMostOne) {
  // No variance anywhere: what is left is the constants and the float rounding of the
  // local variances (a hair either side of zero), and the score must stay a valid SSIM,
  // at most 1, as quality=auto reports it. Odd sides: the tiles cover whole 40 px squares.
  for (const double level : {0.0, 77.0, 255.0}) {
    SCOPED_TRACE(level);
    const VImage flat = VImage::black(101, 83, VImage::option()->set("bands", 3))
                            .linear(0.0, level)
                            .cast(VIPS_FORMAT_UCHAR);
    const VImage pixels = flat.copy_memory();
    const auto from_pixels = CoefficientSsim::from_pixels(pixels.get_image(), 1);
    const auto from_file = CoefficientSsim::read(jpegsave(pixels, 75), 1);
    ASSERT_TRUE(from_pixels && from_file);
    for (int quality = 1; quality <= 100; ++quality) {
      SCOPED_TRACE(quality);
      for (const double score : {from_pixels->score(quality), from_file->score(quality)}) {
        EXPECT_TRUE(std::isfinite(score));
        EXPECT_LE(score, 1.0);
        EXPECT_GT(score, -1.0);  // low: black moved to grey by a coarse DC step
      }
    }
  }
}

// The pixel SSIM, which the coefficient one stands for and which scores what it cannot:
// an image against itself is 1 and never more, whatever its content. Its variances are
// float differences E[y²] − E[y]², and their rounding once read 1.000017 on a photo.
TEST_F(CoefficientSsimTest, ThePixelMetricScoresAnImageAgainstItselfAtMostOne) {
  // Two photos are enough: nearly all of the 14 read above 1 unclamped; few keep the
  // sanitizer build fast.
  std::vector<VImage> images;
  for (const char* name : {"photos/Blinds.jpg", "photos/Dune.jpg"})
    images.push_back(decode(read_testdata(name)));
  images.push_back(VImage::black(101, 83, VImage::option()->set("bands", 3))
                       .linear(0.0, 77.0)
                       .cast(VIPS_FORMAT_UCHAR)
                       .copy_memory());
  for (const auto& image : images) {
    for (const int reduce : {1, 2}) {
      const auto score = impl::ssim(image.get_image(), image.get_image(), reduce);
      ASSERT_TRUE(score.has_value());
      EXPECT_LE(*score, 1.0) << image.width() << "x" << image.height() << " reduce " << reduce;
      EXPECT_GT(*score, 0.9999) << image.width() << "x" << image.height();
    }
  }
}

TEST_F(CoefficientSsimTest, LeavesToThePixelMetricWhatItCannotScore) {
  // Not a JPEG; a JPEG smaller than one tile; damaged data.
  const VImage photo = decode(read_testdata("photos/Aqua.jpg"));
  void* buffer = nullptr;
  size_t length = 0;
  ASSERT_EQ(vips_pngsave_buffer(photo.resize(0.05).get_image(), &buffer, &length, nullptr), 0);
  const std::string png(static_cast<const char*>(buffer), length);
  g_free(buffer);
  EXPECT_FALSE(CoefficientSsim::read(png));
  const VImage tiny = photo.extract_area(0, 0, 30, 30).copy_memory();
  EXPECT_FALSE(CoefficientSsim::read(jpegsave(tiny, 75)));
  EXPECT_FALSE(CoefficientSsim::from_pixels(tiny.get_image()));
  const std::string input = read_testdata("photos/Aqua.jpg");
  EXPECT_FALSE(CoefficientSsim::read(input.substr(0, input.size() / 2)));
  // Pixels with alpha are flattened before a JPEG encode: not these.
  const VImage with_alpha = photo.bandjoin(255).cast(VIPS_FORMAT_UCHAR).copy_memory();
  EXPECT_FALSE(CoefficientSsim::from_pixels(with_alpha.get_image()));
}

}  // namespace
}  // namespace imgbatch::imaging::testing
