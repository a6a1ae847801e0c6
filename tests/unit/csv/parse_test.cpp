// Well-formed input: what parse_and_validate returns for files it accepts.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "csv_test_util.hpp"

namespace imgbatch::csv {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CsvParse, SampleFileHasTwoProductsWithThreeUrlsEach) {
  const auto csv = parse_ok(read_file(IMGBATCH_TESTDATA_DIR "/csv/sample.csv"));
  EXPECT_EQ(csv.columns, (std::vector<std::string>{"S. No.", "Product Name", "Input Image Urls"}));
  ASSERT_EQ(csv.products.size(), 2u);
  EXPECT_EQ(csv.products[0].serial_number, "1");
  EXPECT_EQ(csv.products[0].product_name, "SKU1");
  EXPECT_EQ(csv.products[0].image_urls,
            (std::vector<std::string>{"https://www.public-image-url1.jpg",
                                      "https://www.public-image-url2.jpg",
                                      "https://www.public-image-url3.jpg"}));
  EXPECT_EQ(csv.products[1].serial_number, "2");
  EXPECT_EQ(csv.products[1].product_name, "SKU2");
  EXPECT_EQ(csv.products[1].image_urls.size(), 3u);
}

TEST(CsvParse, KeepsEveryFieldInHeaderOrderAndTrimsSerialAndName) {
  const auto csv = parse_ok(
      "Category,S. No.,Product Name,Input Image Urls,Notes\n"
      "shoes,  7 ,\"  Red shoe \",https://a.com/1.jpg,\"fragile, handle with care\"\n");
  EXPECT_EQ(csv.columns, (std::vector<std::string>{"Category", "S. No.", "Product Name",
                                                   "Input Image Urls", "Notes"}));
  ASSERT_EQ(csv.products.size(), 1u);
  const auto& p = csv.products[0];
  EXPECT_EQ(p.serial_number, "7");
  EXPECT_EQ(p.product_name, "Red shoe");
  EXPECT_EQ(p.image_urls, std::vector<std::string>{"https://a.com/1.jpg"});
  EXPECT_EQ(p.fields, (std::vector<std::string>{"shoes", "7", "  Red shoe ", "https://a.com/1.jpg",
                                                "fragile, handle with care"}));
}

class CsvHeaderAlias : public testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(CsvHeaderAlias, IsMatchedAfterTrimmingAndIgnoringCase) {
  const auto [serial, urls] = GetParam();
  const std::string text =
      std::string(serial) + ", pRODUCT nAME ," + urls + "\n1,Shoe,https://a.com/1.jpg\n";
  const auto csv = parse_ok(text);
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].serial_number, "1");
  EXPECT_EQ(csv.products[0].product_name, "Shoe");
  EXPECT_EQ(csv.products[0].image_urls, std::vector<std::string>{"https://a.com/1.jpg"});
}

INSTANTIATE_TEST_SUITE_P(CsvAliases, CsvHeaderAlias,
                         testing::Values(std::pair{"S. No.", "Input Image Urls"},
                                         std::pair{"S.No.", "URLs"}, std::pair{"s no", "urls"},
                                         std::pair{"  Serial Number  ", " INPUT IMAGE URLS"},
                                         std::pair{"\"S. No.\"", "\"Urls\""},
                                         std::pair{"SERIAL NUMBER", "input image urls"}));

TEST(CsvParse, SkipsUtf8ByteOrderMark) {
  const auto csv = parse_ok(
      "\xEF\xBB\xBFS. No.,Product Name,Input Image Urls\n"
      "1,A,https://a.com/1.jpg\n");
  ASSERT_FALSE(csv.columns.empty());
  EXPECT_EQ(csv.columns[0], "S. No.");
  ASSERT_EQ(csv.products.size(), 1u);
}

TEST(CsvParse, CrlfAndLfGiveTheSameResult) {
  const auto lf =
      parse_ok(std::string(kHeader) + "1,A,https://a.com/1.jpg\n2,B,https://a.com/2.jpg\n");
  const auto crlf = parse_ok(
      "S. No.,Product Name,Input Image "
      "Urls\r\n1,A,https://a.com/1.jpg\r\n2,B,https://a.com/2.jpg\r\n");
  EXPECT_EQ(crlf.columns, lf.columns);
  ASSERT_EQ(crlf.products.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(crlf.products[i].fields, lf.products[i].fields);
    EXPECT_EQ(crlf.products[i].image_urls, lf.products[i].image_urls);
  }
  EXPECT_EQ(crlf.products[1].image_urls, std::vector<std::string>{"https://a.com/2.jpg"});
}

TEST(CsvParse, LastRowWithoutNewlineIsRead) {
  const auto csv = parse_ok(std::string(kHeader) + "1,A,https://a.com/1.jpg");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].image_urls, std::vector<std::string>{"https://a.com/1.jpg"});
}

TEST(CsvParse, BlankLinesAreSkippedAndStillCounted) {
  // Blank lines (also spaces only, also CRLF, also at the end) are not rows, but line
  // numbers after them stay those of the file.
  const std::string text = std::string(kHeader) +
                           "\n"
                           "1,A,https://a.com/1.jpg\n"
                           "   \r\n"
                           "\n"
                           "2,,https://a.com/2.jpg\n"
                           "\n\n";
  const auto problems = parse_bad(text);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 6);
  EXPECT_EQ(problems[0].column, "Product Name");

  const auto csv = parse_ok(std::string(kHeader) + "\n1,A,https://a.com/1.jpg\n\n\n");
  EXPECT_EQ(csv.products.size(), 1u);
}

TEST(CsvParse, RowsOfOnlyEmptyFieldsAreSkipped) {
  const auto csv = parse_ok(std::string(kHeader) +
                            "1,A,https://a.com/1.jpg\n,,\n , ,\n2,B,https://a.com/2.jpg\n,,\n");
  ASSERT_EQ(csv.products.size(), 2u);
  EXPECT_EQ(csv.products[1].serial_number, "2");
}

TEST(CsvParse, UrlCellWithSpacesAndCommasSplitsIntoUrls) {
  const auto csv =
      parse_ok(std::string(kHeader) +
               "1,A,\"https://a.com/x,y.jpg, https://b.com/z.jpg\n https://c.com/w.jpg\"\n");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].image_urls,
            (std::vector<std::string>{"https://a.com/x,y.jpg", "https://b.com/z.jpg",
                                      "https://c.com/w.jpg"}));
}

TEST(CsvParse, NonAsciiTextIsAccepted) {
  const auto csv =
      parse_ok(std::string(kHeader) + "1,Crème brûlée 🍮 盒子,https://bücher.de/é.jpg\n");
  ASSERT_EQ(csv.products.size(), 1u);
  EXPECT_EQ(csv.products[0].product_name, "Crème brûlée 🍮 盒子");
  EXPECT_EQ(csv.products[0].image_urls, std::vector<std::string>{"https://bücher.de/é.jpg"});
}

TEST(CsvParse, TenThousandRows) {
  std::string text = "S. No.,Product Name,Input Image Urls,Notes\n";
  for (int i = 1; i <= 10'000; ++i) {
    const auto n = std::to_string(i);
    text += n + ",Product " + n + ",\"https://img.example.com/p/" + n +
            "/a.jpg,https://img.example.com/p/" + n + "/b.jpg,https://img.example.com/p/" + n +
            "/c.jpg\",note " + n + "\n";
  }
  const auto start = std::chrono::steady_clock::now();
  auto result = parse_and_validate(text);
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("parse_ms", std::to_string(ms));  // informative only: no timing assertion
  ASSERT_TRUE(result.ok()) << describe(result);
  const auto& csv = *result.csv;
  ASSERT_EQ(csv.products.size(), 10'000u);
  EXPECT_EQ(csv.products[9'999].serial_number, "10000");
  EXPECT_EQ(csv.products[9'999].image_urls.size(), 3u);
  EXPECT_EQ(csv.products[9'999].fields[3], "note 10000");
}

}  // namespace
}  // namespace imgbatch::csv
