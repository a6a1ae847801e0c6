// Real photographs (testdata/photos/): what a shop's images become, in every format.
#include <thread>

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

class Photos : public ImagingTest {};

TEST_F(Photos, EachBecomesASmallerJpegOfTheSameSizeWithoutMetadata) {
  const auto paths = photos();
  ASSERT_GE(paths.size(), 10u);
  for (const auto& path : paths) {
    SCOPED_TRACE(path.filename().string());
    const auto input = read_file(path);
    const auto original = vips::VImage::new_from_buffer(input, "");
    auto result = compress(input, {});
    ASSERT_TRUE(result.ok()) << result.message();
    EXPECT_TRUE(starts_with(result->bytes, "\xFF\xD8\xFF"));
    EXPECT_EQ(result->extension, "jpg");
    EXPECT_EQ(result->content_type, "image/jpeg");
    EXPECT_LT(result->bytes.size(), input.size());
    const auto image = decode(result->bytes);
    EXPECT_EQ(image.width(), original.width());
    EXPECT_EQ(image.height(), original.height());
    EXPECT_EQ(result->width, original.width());
    EXPECT_EQ(result->height, original.height());
    EXPECT_EQ(image.bands(), 3);
    EXPECT_EQ(metadata_fields(image), "");
    EXPECT_LT(mean_difference(image, original), 8.0);
  }
}

// The Landscape_* files are small enough that libvips' sequential read-ahead hides an
// out-of-order read; a full-size photo does not.
TEST_F(Photos, LargeRotatedPhotosAreTurnedUpright) {
  const auto input = read_testdata("photos/2569067123_aca715a2ee_o.jpg");  // 2725x2225
  const auto original = vips::VImage::new_from_buffer(input, "");
  for (int orientation : {3, 6}) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    auto tagged = original.copy();
    tagged.set("orientation", orientation);
    VipsBlob* blob = tagged.jpegsave_buffer(vips::VImage::option()->set("Q", 90));
    const std::string rotated(static_cast<const char*>(VIPS_AREA(blob)->data),
                              VIPS_AREA(blob)->length);
    vips_area_unref(VIPS_AREA(blob));
    ASSERT_EQ(vips::VImage::new_from_buffer(rotated, "").get_int("orientation"), orientation);

    auto result = compress(rotated, {});
    ASSERT_TRUE(result.ok()) << result.message();
    const auto image = decode(result->bytes);
    const bool turned = orientation == 6;
    EXPECT_EQ(image.width(), turned ? original.height() : original.width());
    EXPECT_EQ(image.height(), turned ? original.width() : original.height());
    const auto upright = original.autorot().copy_memory();  // no tag: unchanged
    const auto expected = orientation == 3 ? upright.rot180() : upright.rot90();
    EXPECT_LT(mean_difference(image, expected), 8.0);
  }
}

TEST_F(Photos, HigherQualityGivesLargerFiles) {
  const auto input = read_testdata("photos/flowers.jpeg");
  for (auto format : {core::ImageFormat::jpeg, core::ImageFormat::webp}) {
    SCOPED_TRACE(std::string(core::to_string(format)));
    auto low = compress(input, {.quality = 50, .format = format});
    auto high = compress(input, {.quality = 90, .format = format});
    ASSERT_TRUE(low.ok() && high.ok());
    EXPECT_GT(high->bytes.size(), low->bytes.size() * 12 / 10);
  }
}

TEST_F(Photos, EachOutputFormatWritesItsOwnBytes) {
  const auto input = read_testdata("photos/flowers.jpeg");

  auto webp = compress(input, {.format = core::ImageFormat::webp});
  ASSERT_TRUE(webp.ok()) << webp.message();
  EXPECT_TRUE(starts_with(webp->bytes, "RIFF"));
  EXPECT_EQ(webp->bytes.substr(8, 4), "WEBP");
  EXPECT_EQ(webp->extension, "webp");
  EXPECT_EQ(webp->content_type, "image/webp");

  auto png = compress(input, {.format = core::ImageFormat::png});
  ASSERT_TRUE(png.ok()) << png.message();
  EXPECT_TRUE(starts_with(png->bytes, "\x89PNG\r\n\x1A\n"));
  EXPECT_EQ(png->extension, "png");
  EXPECT_EQ(png->content_type, "image/png");

  for (const auto* encoded : {&webp.value(), &png.value()}) {
    SCOPED_TRACE(encoded->extension);
    const auto image = decode(encoded->bytes);
    EXPECT_EQ(image.width(), 1920);
    EXPECT_EQ(image.height(), 1080);
    EXPECT_EQ(metadata_fields(image), "");
  }
}

TEST_F(Photos, AvifIsWrittenOrRefusedWithAReason) {
  // Small and rotated: AV1 encoding is slow, and the orientation must survive it.
  const auto input = read_testdata("edge/Landscape_6.jpg");
  auto avif = compress(input, {.format = core::ImageFormat::avif});
  if (!avif) {
    EXPECT_EQ(avif.error().kind, core::Failure::Kind::encode_error);
    EXPECT_TRUE(avif.message().starts_with("AVIF output is not available")) << avif.message();
    return;
  }
  EXPECT_EQ(avif->bytes.substr(4, 8), "ftypavif");
  EXPECT_EQ(avif->extension, "avif");
  EXPECT_EQ(avif->content_type, "image/avif");
  const auto image = decode(avif->bytes);
  EXPECT_EQ(image.width(), 600);
  EXPECT_EQ(image.height(), 450);
  EXPECT_EQ(metadata_fields(image), "");
}

TEST_F(Photos, KeepReencodesJpegPngAndWebpAsThemselvesAndTheRestAsJpeg) {
  struct Case {
    const char* input;
    const char* extension;
  };
  for (const Case& c : {Case{"photos/flowers.jpeg", "jpg"}, Case{"edge/with-alpha.png", "png"},
                        Case{"edge/4.webp", "webp"}, Case{"edge/animated-loop-3.gif", "jpg"},
                        Case{"edge/8bit_depth.tiff", "jpg"}}) {
    SCOPED_TRACE(c.input);
    const auto encoded = compress_ok(c.input, {.format = core::ImageFormat::keep});
    EXPECT_EQ(encoded.extension, c.extension);
    const auto image = vips::VImage::new_from_buffer(encoded.bytes, "");
    const std::string loader = image.get_string("vips-loader");
    EXPECT_EQ(loader.substr(0, loader.find("load")),
              std::string(c.extension) == "jpg" ? "jpeg" : c.extension);
  }
}

TEST_F(Photos, ManyThreadsCompressAtOnce) {
  const auto paths = photos();
  ASSERT_GE(paths.size(), 8u);
  std::vector<std::string> inputs;
  for (std::size_t i = 0; i < 8; ++i) inputs.push_back(read_file(paths[i]));
  std::vector<std::string> errors(inputs.size());
  std::vector<int> widths(inputs.size());

  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < inputs.size(); i += 4) {
        auto result = compress(inputs[i], {});
        if (result)
          widths[i] = decode(result->bytes).width();
        else
          errors[i] = result.message();
      }
    });
  for (auto& thread : threads) thread.join();

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(paths[i].filename().string());
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(widths[i], vips::VImage::new_from_buffer(inputs[i], "").width());
  }
}

TEST_F(Photos, BrokenAndGoodInputsOnManyThreadsKeepTheirOwnErrors) {
  const auto good = read_testdata("photos/flowers.jpeg");
  const auto bad = read_testdata("edge/truncated.jpg");
  std::vector<std::string> messages(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < messages.size(); ++t)
    threads.emplace_back([&, t] {
      auto result = compress(t % 2 == 0 ? good : bad, {});
      messages[t] = result ? "ok" : result.message();
    });
  for (auto& thread : threads) thread.join();
  for (std::size_t t = 0; t < messages.size(); ++t) {
    if (t % 2 == 0)
      EXPECT_EQ(messages[t], "ok");
    else
      EXPECT_TRUE(messages[t].starts_with("corrupt or truncated image: ")) << messages[t];
  }
}

TEST(ExtensionFor, NamesTheFileCompressWillWrite) {
  EXPECT_EQ(extension_for(core::ImageFormat::jpeg), "jpg");
  EXPECT_EQ(extension_for(core::ImageFormat::webp), "webp");
  EXPECT_EQ(extension_for(core::ImageFormat::avif), "avif");
  EXPECT_EQ(extension_for(core::ImageFormat::png), "png");
  EXPECT_EQ(extension_for(core::ImageFormat::keep), "jpg");
}

}  // namespace
}  // namespace imgbatch::imaging::testing
