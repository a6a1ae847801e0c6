// The parsers of an upload's output choices (core/output_choices.hpp): what they accept,
// and that each refusal names its field, as the 400 answer shows it.
#include "core/output_choices.hpp"

#include <gtest/gtest.h>

namespace imgbatch::core {
namespace {

std::string error_of(const Result<std::vector<OutputSize>>& parsed) {
  return parsed ? std::string("(accepted)") : parsed.message();
}

TEST(OutputChoices, SizesParseAndWriteBackTheSameText) {
  const auto sizes = parse_output_sizes(" thumb:200x200, card_2:600x400 ,zoom-x:2000x2000");
  ASSERT_TRUE(sizes) << sizes.message();
  const std::vector<OutputSize> expected = {
      {"thumb", 200, 200}, {"card_2", 600, 400}, {"zoom-x", 2000, 2000}};
  EXPECT_EQ(*sizes, expected);
  EXPECT_EQ(format_output_sizes(*sizes), "thumb:200x200,card_2:600x400,zoom-x:2000x2000");
  EXPECT_EQ(*parse_output_sizes(format_output_sizes(*sizes)), expected);
  EXPECT_TRUE(parse_output_sizes("")->empty());
  EXPECT_TRUE(parse_output_sizes("  ")->empty());
}

TEST(OutputChoices, BadSizesAreRefusedNamingTheField) {
  EXPECT_EQ(error_of(parse_output_sizes("thumb:0x10")),
            "sizes: thumb is 0x10, each side must be 1-16383");
  EXPECT_EQ(error_of(parse_output_sizes("thumb:200x200,thumb:300x300")),
            "sizes: duplicate name 'thumb'");
  std::string nine;
  for (int i = 0; i < 9; ++i) nine += (i ? "," : "") + ("s" + std::to_string(i)) + ":10x10";
  EXPECT_EQ(error_of(parse_output_sizes(nine)), "sizes: 9 sizes, at most 8");
  EXPECT_EQ(error_of(parse_output_sizes("Thumb:10x10")).rfind("sizes: name 'Thumb'", 0), 0u);
  for (const char* bad : {"thumb", "thumb:10", "thumb:10x", "thumb:x10", "thumb:10x10x10",
                          "thumb:-1x10", "thumb:10x10,", ":10x10", "thumb:1e3x10"})
    EXPECT_EQ(error_of(parse_output_sizes(bad)).rfind("sizes: ", 0), 0u) << bad;
  EXPECT_EQ(error_of(parse_output_sizes("big:16384x10")).rfind("sizes: big is 16384x10", 0), 0u);
}

TEST(OutputChoices, QualityIsANumberOrAuto) {
  EXPECT_TRUE(parse_quality("auto")->automatic);
  EXPECT_TRUE(parse_quality(" AUTO ")->automatic);
  EXPECT_EQ(parse_quality("1")->fixed, 1);
  EXPECT_EQ(parse_quality("100")->fixed, 100);
  for (const char* bad : {"auto7", "0", "101", "", "50.5", "fifty", "-5"}) {
    const auto parsed = parse_quality(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.message().rfind("quality: ", 0), 0u) << parsed.message();
  }
}

TEST(OutputChoices, TargetMaxBytesAndNeverLargerAreCheckedNamingTheirField) {
  EXPECT_DOUBLE_EQ(*parse_quality_target("0.95"), 0.95);
  for (const char* bad : {"0", "1", "1.5", "-0.2", "nan", "inf", "x"}) {
    const auto parsed = parse_quality_target(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.message().rfind("target: ", 0), 0u);
  }
  EXPECT_EQ(*parse_max_bytes("150000"), 150000);
  for (const char* bad : {"-1", "0", "1.5", "", "10k"}) {
    const auto parsed = parse_max_bytes(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.message().rfind("max_bytes: ", 0), 0u);
  }
  EXPECT_TRUE(*parse_never_larger("true"));
  EXPECT_FALSE(*parse_never_larger("False"));
  EXPECT_FALSE(*parse_never_larger("0"));
  ASSERT_FALSE(parse_never_larger("maybe"));
  EXPECT_EQ(parse_never_larger("maybe").message().rfind("never_larger: ", 0), 0u);
}

TEST(OutputChoices, ASizesNameGoesBeforeTheExtension) {
  EXPECT_EQ(sized_output_name("0-1.jpg", "thumb"), "0-1-thumb.jpg");
  EXPECT_EQ(sized_output_name("12-3.webp", "card_2"), "12-3-card_2.webp");
}

}  // namespace
}  // namespace imgbatch::core
