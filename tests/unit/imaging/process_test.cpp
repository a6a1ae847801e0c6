// imaging::process() (issue 14) on real files from shared/testdata and on pictures made
// with libvips: quality=auto, max_bytes, never-larger, sizes, the report, bad options.
#include "imaging/process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <vips/vips8>

#include "imaging/compressor.hpp"
#include "imaging_test_support.hpp"
#include "similarity.hpp"

namespace imgbatch::imaging::testing {
namespace {

using vips::VImage;

class Process : public ImagingTest {
 protected:
  static std::vector<ProcessedImage> process_ok(const std::string& input,
                                                const ProcessOptions& options) {
    auto result = process(input, options);
    if (!result) ADD_FAILURE() << result.error().message;
    return result ? std::move(result).value() : std::vector<ProcessedImage>{};
  }

  static ProcessOptions automatic(double target = 0) {
    ProcessOptions options;
    options.quality.automatic = true;
    options.quality.target = target;
    return options;
  }

  // A flat graphic: a few solid rectangles on white, the easiest picture there is.
  static std::string flat_graphic_png() {
    VImage image = VImage::black(800, 600, VImage::option()->set("bands", 3)) + 255;
    image = image.cast(VIPS_FORMAT_UCHAR);
    image.draw_rect({200, 30, 30}, 50, 50, 300, 200, VImage::option()->set("fill", true));
    image.draw_rect({30, 60, 200}, 400, 250, 300, 250, VImage::option()->set("fill", true));
    void* buffer = nullptr;
    size_t length = 0;
    if (vips_pngsave_buffer(image.get_image(), &buffer, &length, nullptr) != 0)
      throw std::runtime_error(vips_error_buffer());
    std::string png(static_cast<const char*>(buffer), length);
    g_free(buffer);
    return png;
  }

  // SSIM of an output against the source as the pipeline sees it (upright, sRGB),
  // computed afresh from the decoded bytes.
  static double ssim_of(const std::string& source, const std::string& output) {
    const VImage reference = decode(source).autorot();
    const VImage candidate = decode(output);
    const auto score = impl::ssim(reference.get_image(), candidate.get_image());
    EXPECT_TRUE(score.has_value());
    return score.value_or(0);
  }
};

TEST_F(Process, AutoQualityGoesFarLowerOnAFlatGraphicThanOnAHardPhoto) {
  const auto flat = process_ok(flat_graphic_png(), automatic());
  const auto hard = process_ok(read_testdata("photos/Blinds.jpg"), automatic());
  ASSERT_EQ(flat.size(), 1u);
  ASSERT_EQ(hard.size(), 1u);
  ASSERT_TRUE(flat[0].report.score && hard[0].report.score);
  EXPECT_GE(*flat[0].report.score, kDefaultSsimTarget);
  EXPECT_GE(*hard[0].report.score, kDefaultSsimTarget);
  // Fine stripes need a high quality; flat colour holds up at the floor.
  EXPECT_GE(hard[0].report.quality, flat[0].report.quality + 20);
}

TEST_F(Process, AutoQualityMeetsTheTargetCheckedByDecodingTheOutput) {
  for (const char* name :
       {"photos/Dune.jpg", "photos/Storm.jpg", "photos/GreenMeadow.jpg", "photos/Aqua.jpg"}) {
    for (const double target : {0.93, 0.97}) {
      SCOPED_TRACE(std::string(name) + " target " + std::to_string(target));
      const std::string input = read_testdata(name);
      const auto outputs = process_ok(input, automatic(target));
      ASSERT_EQ(outputs.size(), 1u);
      const ImageReport& report = outputs[0].report;
      ASSERT_TRUE(report.score.has_value());
      EXPECT_GE(*report.score, target);
      const double measured = ssim_of(input, outputs[0].encoded.bytes);
      EXPECT_GE(measured, target);
      // The score is the coefficient SSIM's estimate (coefficient_ssim_test.cpp bounds it).
      EXPECT_NEAR(measured, *report.score, 0.005);
      EXPECT_FALSE(report.kept);
    }
  }
}

TEST_F(Process, FormatBestIsTheSmallestFormatThatMeetsTheTarget) {
  const std::string input = read_testdata("edge/Landscape_3.jpg");
  ProcessOptions options = automatic(0.95);
  options.never_larger = false;
  options.sizes = {{"thumb", 100, 100}};
  options.format = core::ImageFormat::best;
  const auto best = process_ok(input, options);
  ASSERT_EQ(best.size(), 2u);
  std::int64_t smallest = 0;
  core::ImageFormat winner = core::ImageFormat::jpeg;
  for (const auto format :
       {core::ImageFormat::jpeg, core::ImageFormat::webp, core::ImageFormat::avif}) {
    options.format = format;
    const auto one = process(input, options);
    if (!one) continue;  // AVIF may not be writable here
    if (smallest == 0 || one->front().report.bytes_out < smallest) {
      smallest = one->front().report.bytes_out;
      winner = format;
    }
  }
  EXPECT_EQ(best[0].report.bytes_out, smallest);
  EXPECT_EQ(best[0].report.format, winner);
  EXPECT_EQ(best[1].report.format, winner) << "its sizes come in the winner's format";
  ASSERT_TRUE(best[0].report.score.has_value());
  EXPECT_GE(*best[0].report.score, 0.95);

  options.format = core::ImageFormat::best;
  options.quality.automatic = false;
  options.quality.target = 0;
  EXPECT_EQ(check_options(options).value_or("").rfind("format: best needs quality=auto", 0), 0u);
}

TEST_F(Process, AHigherTargetNeverGivesALowerQuality) {
  const std::string input = read_testdata("photos/RainDrops.jpg");
  const auto low = process_ok(input, automatic(0.90));
  const auto high = process_ok(input, automatic(0.98));
  ASSERT_FALSE(low.empty());
  ASSERT_FALSE(high.empty());
  EXPECT_GT(high[0].report.quality, low[0].report.quality);
  EXPECT_GT(high[0].report.bytes_out, low[0].report.bytes_out);
}

TEST_F(Process, MaxBytesGivesTheHighestQualityThatFits) {
  const std::string input = read_testdata("photos/Wood.jpg");
  ProcessOptions options;
  options.quality.fixed = 80;
  options.max_bytes = 100'000;
  const auto outputs = process_ok(input, options);
  ASSERT_EQ(outputs.size(), 1u);
  const ImageReport& report = outputs[0].report;
  EXPECT_LE(report.bytes_out, options.max_bytes);
  EXPECT_EQ(report.bytes_out, static_cast<std::int64_t>(outputs[0].encoded.bytes.size()));
  EXPECT_LT(report.quality, 80);
  EXPECT_GE(report.quality, options.min_quality);
  // One step up no longer fits.
  ProcessOptions above;
  above.quality.fixed = report.quality + 1;
  const auto bigger = process_ok(input, above);
  ASSERT_FALSE(bigger.empty());
  EXPECT_GT(bigger[0].report.bytes_out, options.max_bytes);
}

TEST_F(Process, MaxBytesWithAutoTakesTheSmallerOfTheTwo) {
  const std::string input = read_testdata("photos/Wood.jpg");
  const auto free_run = process_ok(input, automatic(0.97));
  ASSERT_FALSE(free_run.empty());
  ProcessOptions capped = automatic(0.97);
  capped.max_bytes = free_run[0].report.bytes_out * 8 / 10;
  const auto outputs = process_ok(input, capped);
  ASSERT_FALSE(outputs.empty());
  EXPECT_LE(outputs[0].report.bytes_out, capped.max_bytes);
  EXPECT_LT(outputs[0].report.quality, free_run[0].report.quality);
  ASSERT_TRUE(outputs[0].report.score.has_value());  // the score of what was written
  EXPECT_LT(*outputs[0].report.score, 0.97);
}

TEST_F(Process, AMaxBytesNothingFitsFailsNamingTheSmallestSize) {
  ProcessOptions options;
  options.max_bytes = 1000;
  const auto result = process(read_testdata("photos/Garden.jpg"), options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, core::Failure::Kind::encode_error);
  EXPECT_NE(result.error().message.find("cannot fit 1000 bytes"), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("at quality 10, is "), std::string::npos)
      << result.error().message;
}

TEST_F(Process, ATinyJpegIsKeptWithItsMetadataStrippedAndItsPixelsUntouched) {
  // A small, low-quality JPEG that still carries EXIF: re-encoding it can only grow it.
  const VImage source = decode(read_testdata("edge/Landscape_1.jpg"));
  ASSERT_NE(metadata_fields(source), "");
  VipsBlob* blob = source.jpegsave_buffer(VImage::option()->set("Q", 20)->set("strip", false));
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  const std::string tiny(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  ASSERT_NE(metadata_fields(decode(tiny)), "");

  ProcessOptions options;
  options.quality.fixed = 90;
  const auto outputs = process_ok(tiny, options);
  ASSERT_EQ(outputs.size(), 1u);
  const ProcessedImage& kept = outputs[0];
  EXPECT_TRUE(kept.report.kept);
  EXPECT_LT(kept.report.bytes_out, kept.report.bytes_in);
  EXPECT_EQ(kept.report.bytes_in, static_cast<std::int64_t>(tiny.size()));
  EXPECT_TRUE(starts_with(kept.encoded.bytes, "\xFF\xD8"));
  const VImage decoded = decode(kept.encoded.bytes);
  EXPECT_EQ(metadata_fields(decoded), "");
  EXPECT_EQ(mean_difference(decoded, decode(tiny)), 0.0);  // bit-identical decode
  EXPECT_EQ(kept.encoded.width, decoded.width());
  EXPECT_EQ(kept.encoded.height, decoded.height());

  options.never_larger = false;
  const auto reencoded = process_ok(tiny, options);
  ASSERT_EQ(reencoded.size(), 1u);
  EXPECT_FALSE(reencoded[0].report.kept);
  EXPECT_EQ(reencoded[0].report.quality, 90);
  EXPECT_GE(reencoded[0].report.bytes_out, reencoded[0].report.bytes_in);
}

TEST_F(Process, APngAskedAsJpegIsNeverKept) {
  const std::string png = flat_graphic_png();
  ProcessOptions options;
  options.quality.fixed = 95;
  const auto outputs = process_ok(png, options);
  ASSERT_EQ(outputs.size(), 1u);
  // Larger than the download, but the format differs: converted all the same.
  EXPECT_GE(outputs[0].report.bytes_out, outputs[0].report.bytes_in);
  EXPECT_FALSE(outputs[0].report.kept);
  EXPECT_EQ(outputs[0].encoded.extension, "jpg");
  EXPECT_TRUE(starts_with(outputs[0].encoded.bytes, "\xFF\xD8"));
}

TEST_F(Process, AnUprightJpegNeedingRotationIsNotKept) {
  // Landscape_6 must be turned: keeping it would show it sideways.
  ProcessOptions options;
  options.quality.fixed = 100;
  const std::string input = read_testdata("edge/Landscape_6.jpg");
  const auto outputs = process_ok(input, options);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_FALSE(outputs[0].report.kept);
}

TEST_F(Process, SizesFitTheirBoxesInOrderAndAreNeverEnlarged) {
  const std::string input = read_testdata("photos/Garden.jpg");
  const VImage source = decode(input);
  ProcessOptions options;
  options.sizes = {{"thumb", 200, 200}, {"card", 600, 300}, {"zoom", 8000, 8000}};
  const auto outputs = process_ok(input, options);
  ASSERT_EQ(outputs.size(), 4u);
  EXPECT_EQ(outputs[0].size, "");
  EXPECT_EQ(outputs[0].encoded.width, source.width());
  EXPECT_EQ(outputs[0].encoded.height, source.height());
  for (std::size_t i = 1; i < outputs.size(); ++i) {
    const SizeBox& box = options.sizes[i - 1];
    SCOPED_TRACE(box.name);
    EXPECT_EQ(outputs[i].size, box.name);
    const VImage image = decode(outputs[i].encoded.bytes);
    EXPECT_EQ(image.width(), outputs[i].encoded.width);
    EXPECT_EQ(image.height(), outputs[i].encoded.height);
    EXPECT_EQ(metadata_fields(image), "");
    // Inside the box, touching it on one side (or the source's own size), same shape.
    EXPECT_LE(image.width(), std::min(box.width, source.width()));
    EXPECT_LE(image.height(), std::min(box.height, source.height()));
    EXPECT_TRUE(image.width() == std::min(box.width, source.width()) ||
                image.height() == std::min(box.height, source.height()));
    const double aspect = static_cast<double>(source.width()) / source.height();
    EXPECT_NEAR(static_cast<double>(image.width()) / image.height(), aspect, 0.02);
    EXPECT_EQ(outputs[i].report.bytes_in, static_cast<std::int64_t>(input.size()));
    EXPECT_EQ(outputs[i].report.bytes_out,
              static_cast<std::int64_t>(outputs[i].encoded.bytes.size()));
    EXPECT_EQ(outputs[i].report.quality, 50);
  }
  // The zoom box is larger than the source: the source's own size.
  EXPECT_EQ(outputs[3].encoded.width, source.width());
  EXPECT_EQ(outputs[3].encoded.height, source.height());
}

TEST_F(Process, SizesFromAShrunkDecodeLookLikeSizesFromTheFullOne) {
  // JPEG out of an eligible JPEG at a fixed quality: the full-size output is requantised
  // without decoding, so the sizes come from libjpeg's shrink-on-load; PNG out decodes the
  // source in full and scales from that.
  const std::string input = read_testdata("photos/YellowFlower.jpg");
  ProcessOptions options;
  options.quality.fixed = 95;
  options.sizes = {{"thumb", 150, 150}, {"card", 500, 500}};
  const auto shrunk = process_ok(input, options);
  options.format = core::ImageFormat::png;
  const auto full = process_ok(input, options);
  ASSERT_EQ(shrunk.size(), 3u);
  ASSERT_EQ(full.size(), 3u);
  for (std::size_t i = 1; i < 3; ++i) {
    SCOPED_TRACE(shrunk[i].size);
    const VImage a = decode(shrunk[i].encoded.bytes);
    const VImage b = decode(full[i].encoded.bytes);
    ASSERT_EQ(a.width(), b.width());
    ASSERT_EQ(a.height(), b.height());
    EXPECT_LT(mean_difference(a, b), 3.0);
  }
}

TEST_F(Process, EveryExifOrientationGivesUprightSizes) {
  ProcessOptions options;
  options.sizes = {{"thumb", 160, 160}, {"card", 400, 400}};
  const auto reference = process_ok(read_testdata("edge/Landscape_1.jpg"), options);
  ASSERT_EQ(reference.size(), 3u);
  ASSERT_GT(reference[1].encoded.width, reference[1].encoded.height);
  for (int orientation = 2; orientation <= 8; ++orientation) {
    SCOPED_TRACE("Landscape_" + std::to_string(orientation));
    const auto outputs = process_ok(
        read_testdata("edge/Landscape_" + std::to_string(orientation) + ".jpg"), options);
    ASSERT_EQ(outputs.size(), 3u);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const VImage image = decode(outputs[i].encoded.bytes);
      const VImage expected = decode(reference[i].encoded.bytes);
      ASSERT_EQ(image.width(), expected.width());
      ASSERT_EQ(image.height(), expected.height());
      EXPECT_EQ(metadata_fields(image), "");
      // Mirrored or turned the wrong way, the picture differs by far more (about 60).
      EXPECT_LT(mean_difference(image, expected), 12.0);
    }
  }
}

TEST_F(Process, SizesWithAutoQualityEachMeetTheTarget) {
  const std::string input = read_testdata("photos/LadyBird.jpg");
  ProcessOptions options = automatic(0.95);
  options.sizes = {{"thumb", 300, 300}, {"card", 900, 900}};
  const auto outputs = process_ok(input, options);
  ASSERT_EQ(outputs.size(), 3u);
  for (const auto& output : outputs) {
    SCOPED_TRACE(output.size);
    ASSERT_TRUE(output.report.score.has_value());
    EXPECT_GE(*output.report.score, 0.95);
  }
}

// Small sizes are a few tiles of the coefficient SSIM only, so their trials are written and
// decoded: the score reported is what the output reaches. The reference here is each size
// made at quality 100, as close to the scaled pixels as a JPEG gets; the photos go in as
// PNG so that both runs scale the same full decode (a JPEG at quality 100 has no DCT-domain
// full-size output, so its sizes would come from another decode than at auto).
TEST_F(Process, SmallSizesWithAutoQualityMeetTheTargetCheckedByDecodingThem) {
  for (const char* name : {"photos/Dune.jpg", "photos/2569067123_aca715a2ee_o.jpg"}) {
    void* buffer = nullptr;
    size_t length = 0;
    ASSERT_EQ(vips_pngsave_buffer(decode(read_testdata(name)).get_image(), &buffer, &length,
                                  "compression", 1, nullptr),
              0);
    const std::string input(static_cast<const char*>(buffer), length);
    g_free(buffer);
    ProcessOptions options = automatic(0.95);
    options.never_larger = false;
    options.sizes = {{"icon", 100, 100}, {"thumb", 240, 240}};
    ProcessOptions near_lossless;
    near_lossless.quality.fixed = 100;
    near_lossless.never_larger = false;
    near_lossless.sizes = options.sizes;
    const auto outputs = process_ok(input, options);
    const auto references = process_ok(input, near_lossless);
    ASSERT_EQ(outputs.size(), 3u);
    ASSERT_EQ(references.size(), 3u);
    for (std::size_t i = 1; i < outputs.size(); ++i) {
      SCOPED_TRACE(std::string(name) + " " + outputs[i].size);
      ASSERT_TRUE(outputs[i].report.score.has_value());
      const auto measured = impl::ssim(decode(references[i].encoded.bytes).get_image(),
                                       decode(outputs[i].encoded.bytes).get_image());
      ASSERT_TRUE(measured.has_value());
      EXPECT_GE(*measured, 0.95 - 0.003);
      EXPECT_NEAR(*measured, *outputs[i].report.score, 0.005);
    }
  }
}

TEST_F(Process, TheFullSizeOutputAtAFixedQualityIsWhatCompressGives) {
  const std::string input = read_testdata("photos/Storm.jpg");
  ProcessOptions options;
  options.quality.fixed = 60;
  options.never_larger = false;
  const auto outputs = process_ok(input, options);
  EncodeOptions single;
  single.quality = 60;
  const auto compressed = compress(input, single);
  ASSERT_TRUE(compressed);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].encoded.bytes, compressed->bytes);
  EXPECT_EQ(outputs[0].report.quality, 60);
  EXPECT_FALSE(outputs[0].report.score.has_value());
  EXPECT_EQ(outputs[0].report.format, core::ImageFormat::jpeg);
}

TEST_F(Process, BadOptionsAreRefusedNamingTheField) {
  struct Case {
    const char* field;
    ProcessOptions options;
  };
  std::vector<Case> cases;
  auto add = [&cases](const char* field, auto change) {
    ProcessOptions options;
    change(options);
    cases.push_back({field, options});
  };
  add("quality:", [](ProcessOptions& o) { o.quality.fixed = 0; });
  add("quality:", [](ProcessOptions& o) { o.quality.fixed = 101; });
  add("target:", [](ProcessOptions& o) {
    o.quality.automatic = true;
    o.quality.target = 1.5;
  });
  add("target:", [](ProcessOptions& o) { o.quality.target = 0.9; });  // without auto
  add("max_bytes:", [](ProcessOptions& o) { o.max_bytes = -1; });
  add("min_quality:", [](ProcessOptions& o) { o.min_quality = 0; });
  add("sizes:", [](ProcessOptions& o) { o.sizes = {{"thumb", 0, 10}}; });
  add("sizes:", [](ProcessOptions& o) { o.sizes = {{"thumb", 10, 10}, {"thumb", 20, 20}}; });
  add("sizes:", [](ProcessOptions& o) { o.sizes = {{"Thumb", 10, 10}}; });
  add("sizes:", [](ProcessOptions& o) { o.sizes = {{"", 10, 10}}; });
  add("sizes:", [](ProcessOptions& o) {
    for (int i = 0; i < 9; ++i) o.sizes.push_back({"s" + std::to_string(i), 10, 10});
  });
  const std::string input = read_testdata("photos/flowers.jpeg");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    const auto problem = check_options(c.options);
    ASSERT_TRUE(problem.has_value());
    EXPECT_EQ(problem->rfind(c.field, 0), 0u) << *problem;
    const auto result = process(input, c.options);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, core::Failure::Kind::encode_error);
    EXPECT_EQ(result.error().message, "invalid options: " + *problem);
  }
  ProcessOptions eight;
  for (int i = 0; i < kMaxSizes; ++i) eight.sizes.push_back({"s" + std::to_string(i), 10, 10});
  EXPECT_FALSE(check_options(eight).has_value());
}

TEST_F(Process, CorruptInputFailsAsCompressDoes) {
  const std::string input = read_testdata("edge/truncated.jpg");
  ProcessOptions options = automatic();
  options.sizes = {{"thumb", 100, 100}};
  const auto result = process(input, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, core::Failure::Kind::decode_error);
}

}  // namespace
}  // namespace imgbatch::imaging::testing
