// RFC 4180 quoting, and the line numbers of records after multi-line fields.
#include <gtest/gtest.h>

#include "csv_test_util.hpp"

namespace imgbatch::csv {
namespace {

TEST(CsvQuoting, DoubledQuotesBecomeOneQuote) {
  const auto csv =
      parse_ok(std::string(kHeader) + "1,\"The \"\"Big\"\" one\",https://a.com/1.jpg\n");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].product_name, "The \"Big\" one");
}

TEST(CsvQuoting, QuotedFieldKeepsCommasAndNewlines) {
  const auto csv =
      parse_ok(std::string(kHeader) + "1,\"Shoe, red\nsize 42\",https://a.com/1.jpg\n");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].product_name, "Shoe, red\nsize 42");
}

TEST(CsvQuoting, QuotedNewlinesShiftTheLinesOfLaterRecords) {
  // Record 1 spans lines 2-4, so the bad record is on line 5 (and the one after on 6).
  const std::string text = std::string(kHeader) +
                           "1,\"two\nextra\nlines\",https://a.com/1.jpg\n"
                           "2,,https://a.com/2.jpg\n"
                           "3,C,ftp://a.com/3.jpg\n";
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 5);
  EXPECT_EQ(problems[0].column, "Product Name");
  EXPECT_EQ(problems[1].line, 6);
  EXPECT_EQ(problems[1].column, "Input Image Urls");
}

TEST(CsvQuoting, CrlfInsideAQuotedFieldIsOneLine) {
  const std::string text =
      "S. No.,Product Name,Input Image Urls\r\n"
      "1,\"a\r\nb\",https://a.com/1.jpg\r\n"
      "1,B,https://a.com/2.jpg\r\n";
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 4);
  EXPECT_EQ(problems[0].message,
            "serial number 1 appears again (first on line 2); serial numbers must be unique");
}

TEST(CsvQuoting, LoneCarriageReturnsEndLines) {
  // Old Mac spreadsheets end lines with CR alone.
  const std::string text =
      "S. No.,Product Name,Input Image Urls\r1,A,https://a.com/1.jpg\r2,,https://a.com/2.jpg\r";
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].column, "Product Name");
}

TEST(CsvQuoting, QuotedUrlListWithCommasGivesEachUrl) {
  const auto csv =
      parse_ok(std::string(kHeader) +
               "1,A,\"https://a.com/1.jpg,https://a.com/2.jpg, https://a.com/3.jpg\"\n");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].image_urls,
            (std::vector<std::string>{"https://a.com/1.jpg", "https://a.com/2.jpg",
                                      "https://a.com/3.jpg"}));
}

TEST(CsvQuoting, UnquotedUrlListWithCommasIsTooManyFields) {
  const auto problems =
      parse_bad(std::string(kHeader) + "1,A,https://a.com/1.jpg,https://a.com/2.jpg\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, "");
  EXPECT_EQ(problems[0].message,
            "this row has 4 values but the header has 3 columns; put any value that contains a "
            "comma in double quotes");
}

TEST(CsvQuoting, UnterminatedQuoteIsReportedWhereTheRecordBegins) {
  const std::string text = std::string(kHeader) +
                           "1,A,https://a.com/1.jpg\n"
                           "2,\"B is never closed,https://a.com/2.jpg\n"
                           "3,C,https://a.com/3.jpg\n";
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].column, "Product Name");
  EXPECT_NE(problems[0].message.find("closing double quote"), std::string::npos)
      << problems[0].message;
}

TEST(CsvQuoting, UnterminatedQuoteInTheHeaderIsTheOnlyProblem) {
  const auto problems =
      parse_bad("\"S. No.,Product Name,Input Image Urls\n1,A,https://a.com/1.jpg\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1);
  EXPECT_EQ(problems[0].column, "");
}

TEST(CsvQuoting, QuoteInsideAnUnquotedFieldIsReportedAndLaterRowsStillChecked) {
  const std::string text = std::string(kHeader) +
                           "1,12\" pizza,https://a.com/1.jpg\n"
                           "2,B,https://a.com/2.jpg\n"
                           "3,,https://a.com/3.jpg\n";
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, "Product Name");
  EXPECT_NE(problems[0].message.find("double quote is in the wrong place"), std::string::npos);
  EXPECT_EQ(problems[1].line, 4);
  EXPECT_EQ(problems[1].column, "Product Name");
}

TEST(CsvQuoting, TextAfterAClosingQuoteIsReported) {
  const auto problems = parse_bad(std::string(kHeader) + "1,A,\"https://a.com/1.jpg\"x\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, "Input Image Urls");
}

TEST(CsvQuoting, BlanksAroundAQuotedFieldAreAllowed) {
  const auto csv = parse_ok(std::string(kHeader) + "1,  \"A, b\"  ,https://a.com/1.jpg\n");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].product_name, "A, b");
}

}  // namespace
}  // namespace imgbatch::csv
