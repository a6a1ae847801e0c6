#include "imaging/formats.hpp"

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

using impl::SourceFormat;

class Sniffing : public ImagingTest {};

TEST_F(Sniffing, FindsTheFormatFromTheBytesNotTheName) {
  struct Case {
    const char* file;
    SourceFormat format;
  };
  for (const Case& c :
       {Case{"photos/flowers.jpeg", SourceFormat::jpeg},
        Case{"edge/with-alpha.png", SourceFormat::png}, Case{"edge/4.webp", SourceFormat::webp},
        Case{"edge/animated-loop-3.gif", SourceFormat::gif},
        Case{"edge/8bit_depth.tiff", SourceFormat::tiff},
        Case{"edge/pitm.avif", SourceFormat::heif}}) {
    SCOPED_TRACE(c.file);
    auto source = impl::sniff_source(read_testdata(c.file));
    ASSERT_TRUE(source.ok()) << source.message();
    EXPECT_EQ(source->format, c.format);
  }
}

TEST_F(Sniffing, RefusesFormatsLibvipsReadsButPhotosAreNot) {
  auto pdf = impl::sniff_source("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n");
  ASSERT_FALSE(pdf.ok());
  EXPECT_EQ(pdf.error().kind, core::Failure::Kind::unsupported_format);
  EXPECT_EQ(pdf.message(),
            "unsupported image format: pdf (accepted: JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF)");

  // A netpbm file, which libvips hands to ImageMagick when reading from memory.
  auto pgm = impl::sniff_source(std::string("P5\n1 1\n255\n") + '\x80');
  ASSERT_FALSE(pgm.ok());
  EXPECT_EQ(pgm.error().kind, core::Failure::Kind::unsupported_format);
  EXPECT_TRUE(pgm.message().starts_with("unsupported image format: magick")) << pgm.message();
}

TEST(OutputFormat, KeepFollowsTheInputWhereItCan) {
  using core::ImageFormat;
  EXPECT_EQ(impl::resolve_format(ImageFormat::keep, SourceFormat::png), ImageFormat::png);
  EXPECT_EQ(impl::resolve_format(ImageFormat::keep, SourceFormat::webp), ImageFormat::webp);
  EXPECT_EQ(impl::resolve_format(ImageFormat::keep, SourceFormat::jpeg), ImageFormat::jpeg);
  EXPECT_EQ(impl::resolve_format(ImageFormat::keep, SourceFormat::gif), ImageFormat::jpeg);
  EXPECT_EQ(impl::resolve_format(ImageFormat::keep, SourceFormat::heif), ImageFormat::jpeg);
  EXPECT_EQ(impl::resolve_format(ImageFormat::webp, SourceFormat::png), ImageFormat::webp);
  EXPECT_FALSE(impl::output_kind(ImageFormat::jpeg).has_alpha);
  EXPECT_TRUE(impl::output_kind(ImageFormat::png).has_alpha);
}

}  // namespace
}  // namespace imgbatch::imaging::testing
