#include "imaging/webp_metadata.hpp"

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

class WebpMetadata : public ImagingTest {
 protected:
  // A WebP as libvips writes it when metadata is kept: an EXIF chunk, and alpha.
  static std::string webp_with_metadata() {
    auto image = decode(read_testdata("edge/with-alpha.png"));
    image.set("orientation", 1);
    VipsBlob* blob = image.webpsave_buffer();
    std::string bytes(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
    vips_area_unref(VIPS_AREA(blob));
    return bytes;
  }
};

TEST_F(WebpMetadata, DropsExifAndKeepsThePicture) {
  const auto original = webp_with_metadata();
  ASSERT_NE(metadata_fields(decode(original)), "");

  const auto stripped = impl::strip_webp_metadata(original);
  EXPECT_LT(stripped.size(), original.size());
  const auto image = decode(stripped);
  EXPECT_EQ(metadata_fields(image), "");
  EXPECT_TRUE(image.has_alpha());
  EXPECT_EQ(mean_difference(image, decode(original)), 0.0);
}

TEST_F(WebpMetadata, LeavesWhatItCannotParseAlone) {
  const auto original = webp_with_metadata();
  const auto cut = original.substr(0, original.size() / 2);
  EXPECT_EQ(impl::strip_webp_metadata(cut), cut);
  EXPECT_EQ(impl::strip_webp_metadata("RIFF"), "RIFF");
  EXPECT_EQ(impl::strip_webp_metadata(""), "");
}

}  // namespace
}  // namespace imgbatch::imaging::testing
