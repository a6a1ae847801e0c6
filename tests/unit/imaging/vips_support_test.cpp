#include "imaging/vips_support.hpp"

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

class VipsErrors : public ImagingTest {};

TEST_F(VipsErrors, AreTakenOnceDeduplicatedAndJoined) {
  vips_error("VipsJpeg", "%s", "Premature end of JPEG file");
  vips_error("VipsJpeg", "%s", "Premature end of JPEG file");
  vips_error("VipsJpeg", "%s", "out of order read at line 48");
  EXPECT_EQ(impl::take_vips_error(),
            "VipsJpeg: Premature end of JPEG file; VipsJpeg: out of order read at line 48");
  EXPECT_EQ(impl::take_vips_error(), "libvips gave no reason");  // the buffer was cleared
}

TEST_F(VipsErrors, BecomeValidUtf8OfBoundedLength) {
  vips_error("loader", "%s", "bad \xFF\xFE bytes, good \xC3\xA9");
  EXPECT_EQ(impl::take_vips_error(), "loader: bad ?? bytes, good \xC3\xA9");

  vips_error("loader", "%s", std::string(1000, 'x').c_str());
  const auto message = impl::take_vips_error();
  EXPECT_LE(message.size(), 300u);
  EXPECT_TRUE(message.ends_with("...")) << message;
}

}  // namespace
}  // namespace imgbatch::imaging::testing
