#include "webhook/base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace imgbatch::webhook {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodingRemovesPaddingBytes) {
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zm9v"), "foo");
  EXPECT_EQ(base64_decode(""), "");
}

TEST(Base64, AcceptsMissingPadding) {
  EXPECT_EQ(base64_decode("Zg"), "f");
  EXPECT_EQ(base64_decode("Zm8"), "fo");
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto decoded = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(decoded.has_value()) << i;
    ASSERT_EQ(*decoded, bytes) << i;
    bytes.push_back(static_cast<char>(i * 7));
  }
}

TEST(Base64, RefusesWhatIsNotBase64) {
  for (const char* text : {"Z", "Zm9vY", "Zm9v!", " Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n",
                           "Z===", "=Zm9", "Zm=v", "Zg=", "Zm8==", "Zm9v====", "-_-_"}) {
    EXPECT_FALSE(base64_decode(text).has_value()) << '"' << text << '"';
  }
}

}  // namespace
}  // namespace imgbatch::webhook
