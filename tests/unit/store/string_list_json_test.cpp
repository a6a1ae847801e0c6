#include "store/string_list_json.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/store.hpp"

namespace imgbatch::store {
namespace {

TEST(StringListJson, RoundTripsEveryCharacterJsonMustEscape) {
  std::string controls;
  for (char c = 1; c < 0x20; ++c) controls += c;
  const std::vector<std::string> items = {
      "",       "plain",       "a, \"quoted\" \\ back",       "line\nbreak\r\ttab",
      controls, "ünïcödé ✓ 𝄞", std::string("nul\0inside", 10)};
  const std::string json = encode_string_list(items);
  EXPECT_EQ(decode_string_list(json), items);
  // Any JSON reader accepts it, not only ours.
  EXPECT_EQ(nlohmann::json::parse(json).get<std::vector<std::string>>(), items);
}

TEST(StringListJson, EmptyListIsAnEmptyArray) {
  EXPECT_EQ(encode_string_list({}), "[]");
  EXPECT_TRUE(decode_string_list("[]").empty());
}

TEST(StringListJson, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  // A lone continuation byte, a truncated sequence, an overlong '/', a UTF-16 surrogate.
  const std::vector<std::string> items = {"a\x80z", "b\xE2\x82", "c\xC0\xAF", "d\xED\xA0\x80"};
  const auto decoded = decode_string_list(encode_string_list(items));
  ASSERT_EQ(decoded.size(), 4u);
  EXPECT_EQ(decoded[0], "a\xEF\xBF\xBDz");
  EXPECT_EQ(decoded[1], "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(decoded[2], "c\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(decoded[3], "d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StringListJson, DamagedValueIsAStoreError) {
  EXPECT_THROW(decode_string_list("not json"), StoreError);
  EXPECT_THROW(decode_string_list("[1, 2]"), StoreError);
}

}  // namespace
}  // namespace imgbatch::store
