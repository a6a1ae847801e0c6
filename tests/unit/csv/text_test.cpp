// The byte-level helpers behind the CSV rules: UTF-8 validation and printable values.
#include <gtest/gtest.h>

#include "csv/impl/text.hpp"

namespace imgbatch::csv::impl {
namespace {

constexpr auto npos = std::string_view::npos;

TEST(CsvUtf8, AcceptsWellFormedText) {
  EXPECT_EQ(find_invalid_utf8(""), npos);
  EXPECT_EQ(find_invalid_utf8("plain ascii, long enough to use the 8-byte path"), npos);
  EXPECT_EQ(
      find_invalid_utf8("\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF"),
      npos);
  EXPECT_EQ(find_invalid_utf8("\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF 🍮 盒子 é"), npos);
  EXPECT_EQ(find_invalid_utf8(std::string_view("\0a", 2)), npos);
}

TEST(CsvUtf8, FindsTheFirstIllFormedByte) {
  EXPECT_EQ(find_invalid_utf8("abcdefghij\xC0\xAF"), 10u);  // overlong 2-byte
  EXPECT_EQ(find_invalid_utf8("\xC1\xBF"), 0u);             // overlong 2-byte
  EXPECT_EQ(find_invalid_utf8("ab\xE0\x9F\xBF"), 2u);       // overlong 3-byte
  EXPECT_EQ(find_invalid_utf8("\xF0\x8F\xBF\xBF"), 0u);     // overlong 4-byte
  EXPECT_EQ(find_invalid_utf8("é\xED\xA0\x80"), 2u);        // high surrogate
  EXPECT_EQ(find_invalid_utf8("\xED\xBF\xBF"), 0u);         // low surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);     // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
  EXPECT_EQ(find_invalid_utf8("abc\x80"), 3u);      // stray continuation
  EXPECT_EQ(find_invalid_utf8("abc\xE2\x82"), 3u);  // truncated at the end
  EXPECT_EQ(find_invalid_utf8("\xE2\x82z"), 0u);    // truncated mid-text
  EXPECT_EQ(find_invalid_utf8("12345678\xF0\x9F\x8D"), 8u);
}

TEST(CsvPrintable, ReplacesBadBytesAndControlCharacters) {
  EXPECT_EQ(printable("ok é"), "ok é");
  EXPECT_EQ(printable("a\xFF"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(printable("a\nb\x7f"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
}

TEST(CsvPrintable, CutsLongValuesOnACharacterBoundary) {
  const std::string long_value(500, 'x');
  const auto p = printable(long_value, 10);
  EXPECT_EQ(p, std::string(10, 'x') + "\xE2\x80\xA6");
  const auto q = printable("ééééééééé", 5);  // 2-byte characters
  EXPECT_EQ(q, "ééé\xE2\x80\xA6");
  EXPECT_EQ(find_invalid_utf8(q), npos);
}

TEST(CsvText, TrimAndCaseInsensitiveCompare) {
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim("   "), "");
  EXPECT_TRUE(iequals("S. No.", "s. nO."));
  EXPECT_FALSE(iequals("S. No.", "S. No"));
  EXPECT_TRUE(istarts_with("HTTPS://x", "https://"));
  EXPECT_FALSE(istarts_with("http", "https://"));
}

}  // namespace
}  // namespace imgbatch::csv::impl
