#include "imaging/icc.hpp"

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

class IccProfiles : public ImagingTest {
 protected:
  static std::string profile_of(const vips::VImage& image) {
    size_t size = 0;
    const void* data = image.get_blob("icc-profile-data", &size);
    return {static_cast<const char*>(data), size};
  }
};

TEST_F(IccProfiles, RecognisesLibvipsOwnSrgbProfile) {
  const auto input = read_testdata("photos/flowers.jpeg");
  const auto srgb = vips::VImage::new_from_buffer(input, "").icc_transform("srgb");
  const auto profile = profile_of(srgb);
  EXPECT_TRUE(impl::is_srgb_profile(profile.data(), profile.size()));
  // Any cut of it is malformed, not sRGB, and must not be read past its end.
  for (std::size_t size : {0ul, 100ul, 131ul, 200ul, profile.size() / 2})
    EXPECT_FALSE(impl::is_srgb_profile(profile.data(), size)) << size;
}

TEST_F(IccProfiles, OtherProfilesAreNotSrgb) {
  for (const char* name :
       {"edge/Landscape_2.jpg",  // Apple "Generic RGB Profile"
        "edge/Channel_digital_image_CMYK_color.jpg", "edge/16-bit-grey-alpha.png"}) {
    SCOPED_TRACE(name);
    const auto input = read_testdata(name);
    const auto profile = profile_of(vips::VImage::new_from_buffer(input, ""));
    ASSERT_GT(profile.size(), 128u);
    EXPECT_FALSE(impl::is_srgb_profile(profile.data(), profile.size()));
  }
}

}  // namespace
}  // namespace imgbatch::imaging::testing
