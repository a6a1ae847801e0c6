// The images of testdata/edge/, each with the outcome its README promises.
#include <sys/resource.h>

#include <chrono>
#include <random>

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

class EdgeImages : public ImagingTest {};

long max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(EdgeImages, EveryExifOrientationComesOutUprightAndLikeTheUnrotatedOne) {
  const auto reference = decode(compress_ok("edge/Landscape_1.jpg").bytes);
  ASSERT_GT(reference.width(), reference.height());
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("Landscape_" + std::to_string(orientation));
    const auto encoded = compress_ok("edge/Landscape_" + std::to_string(orientation) + ".jpg");
    const auto image = decode(encoded.bytes);
    EXPECT_EQ(image.width(), reference.width());
    EXPECT_EQ(image.height(), reference.height());
    EXPECT_EQ(encoded.width, image.width());
    EXPECT_EQ(encoded.height, image.height());
    EXPECT_EQ(metadata_fields(image), "");
    // Mirrored or turned the wrong way, the picture differs by far more (about 60).
    EXPECT_LT(mean_difference(image, reference), 12.0);
  }
}

TEST_F(EdgeImages, CmykWithAnIccProfileBecomesThreeBandSrgb) {
  const auto image = decode(compress_ok("edge/Channel_digital_image_CMYK_color.jpg").bytes);
  EXPECT_EQ(image.interpretation(), VIPS_INTERPRETATION_sRGB);
  EXPECT_EQ(image.bands(), 3);
  EXPECT_EQ(image.width(), 500);
  EXPECT_EQ(image.height(), 333);
}

TEST_F(EdgeImages, SixteenBitGreyAndAlphaInputsBecomeOpaqueEightBitJpegs) {
  for (const char* name : {"edge/16-bit-grey-alpha.png", "edge/grey-8bit-alpha.png",
                           "edge/with-alpha.png", "edge/gamma_dalai_lama_gray.jpg"}) {
    SCOPED_TRACE(name);
    const auto encoded = compress_ok(name);
    EXPECT_EQ(encoded.extension, "jpg");
    EXPECT_TRUE(starts_with(encoded.bytes, "\xFF\xD8\xFF"));
    const auto image = decode(encoded.bytes);
    EXPECT_TRUE(image.bands() == 1 || image.bands() == 3) << image.bands() << " bands";
    EXPECT_FALSE(image.has_alpha());
    EXPECT_EQ(image.format(), VIPS_FORMAT_UCHAR);
  }
}

TEST_F(EdgeImages, SixteenBitGreyAlphaIsScaledNotClippedToWhite) {
  // Alpha or grey left at 16-bit scale would flatten to (almost) pure white.
  const auto input = decode(read_testdata("edge/16-bit-grey-alpha.png"));
  const auto expected = input.colourspace(VIPS_INTERPRETATION_B_W)
                            .flatten(vips::VImage::option()->set("background", 255.0))
                            .cast(VIPS_FORMAT_UCHAR);
  const auto image = decode(compress_ok("edge/16-bit-grey-alpha.png").bytes);
  ASSERT_EQ(image.width(), expected.width());
  EXPECT_LT(image.avg(), 250.0);
  EXPECT_LT(mean_difference(image.extract_band(0), expected.extract_band(0)), 6.0);
}

TEST_F(EdgeImages, FullyTransparentPixelsBecomeWhiteInJpeg) {
  const auto image = decode(compress_ok("edge/full-transparent.png").bytes);
  EXPECT_GT(image.avg(), 254.0);
  EXPECT_FALSE(image.has_alpha());
}

TEST_F(EdgeImages, AlphaIsKeptForFormatsThatCarryIt) {
  for (auto format : {core::ImageFormat::webp, core::ImageFormat::png}) {
    SCOPED_TRACE(std::string(core::to_string(format)));
    const auto image = decode(compress_ok("edge/with-alpha.png", {.format = format}).bytes);
    EXPECT_TRUE(image.has_alpha());
    EXPECT_EQ(metadata_fields(image), "");  // the input has EXIF
  }
}

TEST_F(EdgeImages, AnimationsGiveTheirFirstFrameOnly) {
  for (const char* name :
       {"edge/animated-loop-3.gif", "edge/rotating-squares.webp", "edge/big-height.webp"}) {
    SCOPED_TRACE(name);
    const auto input = read_testdata(name);
    const auto all_pages =
        vips::VImage::new_from_buffer(input, "", vips::VImage::option()->set("n", -1));
    const int page_height = all_pages.get_int("page-height");
    ASSERT_LT(page_height, all_pages.height());  // really animated
    for (auto format : {core::ImageFormat::jpeg, core::ImageFormat::webp}) {
      const auto encoded = compress_ok(name, {.format = format});
      const auto image = decode(encoded.bytes);
      EXPECT_EQ(image.width(), all_pages.width());
      EXPECT_EQ(image.height(), page_height);
      EXPECT_EQ(encoded.height, page_height);
    }
  }
}

TEST_F(EdgeImages, ThePixelLimitCountsOnePageOfAnAnimation) {
  // 370x285 a frame (105450 pixels), ten frames.
  EXPECT_TRUE(compress(read_testdata("edge/animated-loop-3.gif"), {.max_pixels = 110'000}).ok());
  EXPECT_EQ(compress_error("edge/animated-loop-3.gif", {.max_pixels = 100'000}),
            "too many pixels: 370x285 is 105450 pixels, the limit is 100000");
}

TEST_F(EdgeImages, WebpAndTiffInputsWork) {
  EXPECT_EQ(decode(compress_ok("edge/4.webp").bytes).width(), 1024);
  const auto tiff = compress_ok("edge/8bit_depth.tiff");
  EXPECT_EQ(tiff.width, 21);
  EXPECT_EQ(decode(tiff.bytes).height(), 21);
}

TEST_F(EdgeImages, AvifInputWorksOrFailsWithAClearReason) {
  const auto input = read_testdata("edge/pitm.avif");
  auto result = compress(input, {});
  if (result) {
    const auto image = decode(result->bytes);
    EXPECT_EQ(image.width(), 4096);
    EXPECT_EQ(image.height(), 800);
  } else {
    EXPECT_EQ(result.error().kind, core::Failure::Kind::decode_error);
    EXPECT_TRUE(result.message().starts_with("cannot decode HEIF/AVIF image: "))
        << result.message();
    EXPECT_GT(result.message().size(), std::string("cannot decode HEIF/AVIF image: ").size() + 5);
  }
}

TEST_F(EdgeImages, BrokenFilesAreErrorsNotHalfGreyImages) {
  for (const char* name : {"edge/corrupt-header.jpg", "edge/truncated.jpg", "edge/truncated.png"}) {
    SCOPED_TRACE(name);
    for (auto format : {core::ImageFormat::jpeg, core::ImageFormat::webp}) {
      const auto failure = compress_failure(name, {.format = format});
      EXPECT_EQ(failure.kind, core::Failure::Kind::decode_error);
      const auto& message = failure.message;
      EXPECT_TRUE(message.starts_with("corrupt or truncated image: ")) << message;
      EXPECT_GT(message.size(), std::string("corrupt or truncated image: ").size());
    }
  }
}

TEST_F(EdgeImages, DecompressionBombsAreRefusedFromTheHeaderAlone) {
  struct Bomb {
    const char* name;
    const char* message;
  };
  for (const Bomb& bomb :
       {Bomb{"edge/giant-image.jpg",
             "too many pixels: 20000x14000 is 280000000 pixels, the limit is 100000000"},
        Bomb{"edge/65536-uint32-limit.png",
             "too many pixels: 65536x65536 is 4294967296 pixels, the limit is 100000000"}}) {
    SCOPED_TRACE(bomb.name);
    const auto input = read_testdata(bomb.name);
    const long rss_before = max_rss_kib();
    const auto start = std::chrono::steady_clock::now();
    auto result = compress(input, {});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, core::Failure::Kind::too_many_pixels);
    EXPECT_EQ(result.message(), bomb.message);
    EXPECT_LT(elapsed, std::chrono::seconds(2));
    EXPECT_LT(max_rss_kib() - rss_before, 100 * 1024);
  }
}

TEST_F(EdgeImages, ASideLongerThanTheEncoderAllowsIsAClearError) {
  // 16400x8: few pixels, but longer than a WebP can be.
  VipsBlob* blob = vips::VImage::black(16400, 8).pngsave_buffer();
  const std::string input(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));

  auto webp = compress(input, {.format = core::ImageFormat::webp});
  ASSERT_FALSE(webp.ok());
  EXPECT_EQ(webp.error().kind, core::Failure::Kind::encode_error);
  EXPECT_EQ(webp.message(),
            "image too large for WebP: 16400x8, WebP stores at most 16383 pixels a side "
            "(choose png)");
  EXPECT_TRUE(compress(input, {.format = core::ImageFormat::jpeg}).ok());
}

TEST_F(EdgeImages, SvgIsRefusedByName) {
  const auto svg = compress_failure("edge/struct-image-04-t.svg");
  EXPECT_EQ(svg.kind, core::Failure::Kind::unsupported_format);
  EXPECT_EQ(svg.message,
            "unsupported image format: svg (accepted: JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF)");
}

TEST_F(EdgeImages, BytesThatAreNoImageAreSaidToBeNoImage) {
  std::mt19937 random(42);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  const std::string html =
      "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
      "<body><h1>Not Found</h1></body></html>\n";
  for (const auto& input : {noise, html, std::string{}}) {
    auto result = compress(input, {});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, core::Failure::Kind::not_an_image);
    EXPECT_EQ(result.message(), "not an image (the bytes are not a known image format)");
  }
}

}  // namespace
}  // namespace imgbatch::imaging::testing
