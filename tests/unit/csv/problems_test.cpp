// Rejected files: every rule gives its problem on the right line and column, with a
// message that says what to do.
#include <gtest/gtest.h>

#include "csv/impl/text.hpp"
#include "csv_test_util.hpp"

namespace imgbatch::csv {
namespace {

std::string rows(int from, int to, const std::string& name = "P") {
  std::string s;
  for (int i = from; i <= to; ++i)
    s += std::to_string(i) + "," + name + ",https://a.com/" + std::to_string(i) + ".jpg\n";
  return s;
}

TEST(CsvProblems, EmptyFile) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("\xEF\xBB\xBF"), std::string_view("\n\r\n  \n")}) {
    const auto problems = parse_bad(text);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].line, 0);
    EXPECT_EQ(problems[0].column, "");
    EXPECT_TRUE(problems[0].message.starts_with("the file is empty")) << problems[0].message;
  }
}

TEST(CsvProblems, HeaderOnly) {
  for (std::string_view text :
       {std::string_view(kHeader), std::string_view("S. No.,Product Name,Input Image Urls"),
        std::string_view("S. No.,Product Name,Input Image Urls\r\n\r\n,,\r\n")}) {
    const auto problems = parse_bad(text);
    ASSERT_EQ(problems.size(), 1u) << text;
    EXPECT_EQ(problems[0].line, 0);
    EXPECT_EQ(problems[0].message,
              "the file has a header but no products; add one row per product below the header");
  }
}

TEST(CsvProblems, EachMissingRequiredColumnOnLineOne) {
  const auto problems = parse_bad("Name,Pictures\nA,https://a.com/1.jpg\n");
  ASSERT_EQ(problems.size(), 3u);
  for (const auto& p : problems) EXPECT_EQ(p.line, 1);
  EXPECT_EQ(problems[0].column, "S. No.");
  EXPECT_EQ(problems[1].column, "Product Name");
  EXPECT_EQ(problems[2].column, "Input Image Urls");
  EXPECT_NE(problems[2].message.find("also accepted: \"URLs\""), std::string::npos);
}

TEST(CsvProblems, OneMissingColumnStillChecksTheOthers) {
  const auto problems = parse_bad("S. No.,Input Image Urls\n1,https://a.com/1.jpg\n1,ftp://x/y\n");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 1);
  EXPECT_EQ(problems[0].column, "Product Name");
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_EQ(problems[1].column, "S. No.");
  EXPECT_EQ(problems[2].line, 3);
  EXPECT_EQ(problems[2].column, "Input Image Urls");
}

TEST(CsvProblems, DuplicateRequiredColumn) {
  const auto problems =
      parse_bad("S. No.,Product Name,Serial Number,Input Image Urls\n1,A,1,https://a.com/1.jpg\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1);
  EXPECT_EQ(problems[0].column, "S. No.");
  EXPECT_EQ(problems[0].message,
            "the header has more than one \"S. No.\" column (columns 1 and 3); keep only one");
}

TEST(CsvProblems, TooFewFields) {
  const auto problems = parse_bad(std::string(kHeader) + rows(1, 1) + "2,B\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].column, "");
  EXPECT_EQ(problems[0].message,
            "this row has 2 values but the header has 3 columns; give every column a value (an "
            "empty value still needs its comma)");
}

TEST(CsvProblems, EmptySerialAndEmptyName) {
  const auto problems =
      parse_bad(std::string(kHeader) + "  ,A,https://a.com/1.jpg\n2,\" \",https://a.com/2.jpg\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, "S. No.");
  EXPECT_EQ(problems[0].message,
            "the serial number is empty; give every product a unique serial number");
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_EQ(problems[1].column, "Product Name");
  EXPECT_EQ(problems[1].message, "the product name is empty; give every product a name");
}

TEST(CsvProblems, DuplicateSerialOnItsSecondOccurrence) {
  const auto problems =
      parse_bad(std::string(kHeader) + rows(1, 1) + "7,A,https://a.com/1.jpg\n" + rows(2, 3) +
                " 7 ,B,https://a.com/2.jpg\n" + "7,C,https://a.com/3.jpg\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 6);
  EXPECT_EQ(problems[0].column, "S. No.");
  EXPECT_EQ(problems[0].message,
            "serial number 7 appears again (first on line 3); serial numbers must be unique");
  EXPECT_EQ(problems[1].line, 7);
}

TEST(CsvProblems, NoUrl) {
  for (std::string cell : {"", "\" , ,\"", "\"\n\""}) {
    const auto problems = parse_bad(std::string(kHeader) + "1,A," + cell + "\n");
    ASSERT_EQ(problems.size(), 1u) << cell;
    EXPECT_EQ(problems[0].line, 2);
    EXPECT_EQ(problems[0].column, "Input Image Urls");
    EXPECT_EQ(problems[0].message,
              "there is no image URL; give at least one http:// or https:// URL");
  }
}

TEST(CsvProblems, EachBadUrlIsNamed) {
  const auto problems = parse_bad(
      std::string(kHeader) + "1,A,\"https://a.com/ok.jpg ftp://a.com/x.jpg www.b.com/y.jpg\"\n" +
      "2,B,https://a.com/ok.jpg\n" + "3,C,http://\n");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, "Input Image Urls");
  EXPECT_NE(problems[0].message.find("\"ftp://a.com/x.jpg\""), std::string::npos)
      << problems[0].message;
  EXPECT_EQ(problems[1].line, 2);
  EXPECT_NE(problems[1].message.find("\"www.b.com/y.jpg\""), std::string::npos)
      << problems[1].message;
  EXPECT_EQ(problems[2].line, 4);
  EXPECT_NE(problems[2].message.find("\"http://\""), std::string::npos) << problems[2].message;
}

TEST(CsvProblems, UrlLongerThanTheLimit) {
  ParseLimits limits;
  limits.max_url_length = 30;
  const auto problems =
      parse_bad(std::string(kHeader) + "1,A,https://a.com/" + std::string(20, 'x') + "\n" +
                    "2,B,https://a.com/" + std::string(12, 'x') + "\n",
                limits);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_NE(problems[0].message.find("at most 30"), std::string::npos) << problems[0].message;
}

TEST(CsvProblems, TooManyUrlsForOneProduct) {
  ParseLimits limits;
  limits.max_urls_per_product = 2;
  const auto problems =
      parse_bad(std::string(kHeader) + "1,A,\"https://a.com/1 https://a.com/2\"\n" +
                    "2,B,\"https://a.com/1 https://a.com/2 https://a.com/3\"\n",
                limits);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].column, "Input Image Urls");
  EXPECT_EQ(problems[0].message,
            "this product has 3 image URLs; at most 2 are accepted per product, so split it into "
            "several products");
}

TEST(CsvProblems, MoreRowsThanTheLimitIsOneProblem) {
  ParseLimits limits;
  limits.max_rows = 3;
  EXPECT_EQ(parse_ok(std::string(kHeader) + rows(1, 3), limits).products.size(), 3u);

  const auto r =
      parse_and_validate(std::string(kHeader) + rows(1, 3) + "\n" + rows(4, 50, ""), limits);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.problems.size(), 1u) << describe(r);
  EXPECT_EQ(r.problems[0].line, 6);
  EXPECT_EQ(r.problems[0].message,
            "the file has more than 3 products; at most 3 are accepted in one upload, so split "
            "it into several files");
  EXPECT_FALSE(r.problems_truncated);
}

TEST(CsvProblems, InvalidUtf8IsReportedOnItsLine) {
  const std::string bad[] = {
      "\xC0\xAF",          // overlong "/"
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xED\xA0\x80",      // UTF-16 surrogate
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\x80",              // lone continuation byte
      "\xE9t\xE9",         // Latin-1 "été"
      "\xE2\x82",          // truncated sequence
  };
  for (const auto& b : bad) {
    const std::string text = std::string(kHeader) + rows(1, 1) + "2,\"multi\nline " + b +
                             "\",https://a.com/2.jpg\n" + rows(3, 3);
    const auto r = parse_and_validate(text);
    ASSERT_EQ(r.problems.size(), 1u) << describe(r);
    EXPECT_EQ(r.problems[0].line, 4);
    EXPECT_EQ(r.problems[0].column, "");
    EXPECT_NE(r.problems[0].message.find("save the file as UTF-8"), std::string::npos);
  }
}

TEST(CsvProblems, Utf16FileIsToldToBeSavedAsUtf8) {
  const auto problems = parse_bad(std::string("\xFF\xFES\0.\0", 6));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1);
  EXPECT_NE(problems[0].message.find("UTF-16"), std::string::npos);
}

TEST(CsvProblems, MessagesAreValidUtf8WithoutControlCharacters) {
  const auto problems =
      parse_bad(std::string(kHeader) + "\xFF\x01,A,\"ftp://\xC3\x28\x02/x.jpg\"\n" +
                "\xFF\x01,B,https://a.com/1.jpg\n");
  ASSERT_GE(problems.size(), 3u);
  for (const auto& p : problems) {
    EXPECT_EQ(impl::find_invalid_utf8(p.message), std::string::npos) << p.message;
    for (char c : p.message) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << p.message;
  }
}

TEST(CsvProblems, AreSortedByLine) {
  // The UTF-8 problem on line 3 is found before the row problem of the record that
  // begins on line 2; the list is still in line order.
  const auto problems =
      parse_bad(std::string(kHeader) + "1,\"x\n\xFF\",ftp://a.com/1.jpg\n2,,https://a.com/2.jpg\n");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_EQ(problems[2].line, 4);
}

TEST(CsvProblems, AreCappedAtOneHundred) {
  const auto r = parse_and_validate(std::string(kHeader) + rows(1, 250, ""));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.problems.size(), 100u);
  EXPECT_TRUE(r.problems_truncated);
  EXPECT_EQ(r.problems.front().line, 2);
  EXPECT_EQ(r.problems.back().line, 101);
  for (const auto& p : r.problems) EXPECT_EQ(p.column, "Product Name");

  const auto exact = parse_and_validate(std::string(kHeader) + rows(1, 100, ""));
  EXPECT_EQ(exact.problems.size(), 100u);
  EXPECT_FALSE(exact.problems_truncated);
}

TEST(CsvProblems, CapHoldsWhenOneRowHasThousandsOfBadUrls) {
  std::string cell;
  for (int i = 0; i < 5000; ++i) cell += "ftp://a.com/" + std::to_string(i) + " ";
  const auto r = parse_and_validate(std::string(kHeader) + "1,A,\"" + cell + "\"\n");
  EXPECT_EQ(r.problems.size(), 100u);
  EXPECT_TRUE(r.problems_truncated);
}

TEST(CsvProblems, EveryKindInOneFileEachOnItsLine) {
  const std::string text = std::string(kHeader) +
                           "1,A,https://a.com/1.jpg\n"   // 2 fine
                           ",B,https://a.com/2.jpg\n"    // 3 empty serial
                           "3,,https://a.com/3.jpg\n"    // 4 empty name
                           "1,D,https://a.com/4.jpg\n"   // 5 duplicate of line 2
                           "5,E,\n"                      // 6 no URL
                           "6,F,mailto:x@y.z\n"          // 7 bad URL
                           "7,G\n"                       // 8 too few fields
                           "8,H,https://a.com/8.jpg\n";  // 9 fine
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 6u);
  const std::pair<int, std::string> expected[] = {{3, "S. No."},           {4, "Product Name"},
                                                  {5, "S. No."},           {6, "Input Image Urls"},
                                                  {7, "Input Image Urls"}, {8, ""}};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(problems[i].line, expected[i].first) << problems[i];
    EXPECT_EQ(problems[i].column, expected[i].second) << problems[i];
  }
}

}  // namespace
}  // namespace imgbatch::csv
