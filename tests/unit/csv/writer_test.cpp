// write_output_csv: RFC 4180 output that reads back as the same fields.
#include <gtest/gtest.h>

#include "csv_test_util.hpp"

namespace imgbatch::csv {
namespace {

using Row = std::vector<std::string>;

TEST(CsvWriteOutput, AddsTheOutputColumnAndUsesCrlf) {
  const auto out = write_output_csv({"S. No.", "Product Name", "Input Image Urls"},
                                    {{"1", "SKU1", "https://a.com/1.jpg"}}, {{"http://o/1-0.jpg"}});
  EXPECT_EQ(out,
            "S. No.,Product Name,Input Image Urls,Output Image Urls\r\n"
            "1,SKU1,https://a.com/1.jpg,http://o/1-0.jpg\r\n");
}

TEST(CsvWriteOutput, FailedImageIsAnEmptyItem) {
  const auto out =
      write_output_csv({"S. No.", "Product Name", "Input Image Urls"},
                       {{"1", "A", "https://a.com/1.jpg,https://a.com/2.jpg,https://a.com/3.jpg"}},
                       {{"http://o/0-0.jpg", "", "http://o/0-2.jpg"}});
  EXPECT_EQ(out,
            "S. No.,Product Name,Input Image Urls,Output Image Urls\r\n"
            "1,A,\"https://a.com/1.jpg,https://a.com/2.jpg,https://a.com/3.jpg\","
            "\"http://o/0-0.jpg,,http://o/0-2.jpg\"\r\n");
}

TEST(CsvWriteOutput, QuotesOnlyWhatNeedsIt) {
  const auto out =
      write_output_csv({"a", "b", "c", "d", "e", "f"},
                       {{"plain", "x,y", "say \"hi\"", "two\nlines", "cr\rhere", " pad "}}, {{}});
  EXPECT_EQ(out,
            "a,b,c,d,e,f,Output Image Urls\r\n"
            "plain,\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\",\" pad \",\r\n");
}

TEST(CsvWriteOutput, MissingOutputUrlsAreAnEmptyField) {
  const auto out = write_output_csv({"S. No."}, {{"1"}, {"2"}}, {{"http://o/0-0.jpg"}});
  EXPECT_EQ(out, "S. No.,Output Image Urls\r\n1,http://o/0-0.jpg\r\n2,\r\n");
}

TEST(CsvWriteOutput, RoundTripsThroughTheParser) {
  const Row columns = {"S. No.", "Product Name", "Input Image Urls", "Notes, \"quoted\"", "  Tag"};
  const std::vector<Row> rows = {
      {"1", "Shoe, red", "https://a.com/x,y.jpg", "line one\r\nline two", " padded "},
      {"2", "The \"Big\" one", "https://a.com/1.jpg https://a.com/2.jpg", "", "é 🍮"},
      {"3", "\"", "https://a.com/3.jpg", ",", "\n"},
  };
  const std::vector<Row> outputs = {{"http://o/0-0.jpg"}, {"", "http://o/1-1.jpg"}, {""}};
  const auto text = write_output_csv(columns, rows, outputs);

  const auto csv = parse_ok(text);
  Row expected_columns = columns;
  expected_columns.push_back("Output Image Urls");
  EXPECT_EQ(csv.columns, expected_columns);
  ASSERT_EQ(csv.products.size(), rows.size());
  const Row joined = {"http://o/0-0.jpg", ",http://o/1-1.jpg", ""};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Row expected = rows[i];
    expected.push_back(joined[i]);
    EXPECT_EQ(csv.products[i].fields, expected) << "row " << i;
  }
  EXPECT_EQ(csv.products[0].image_urls, Row{"https://a.com/x,y.jpg"});
  EXPECT_EQ(csv.products[1].image_urls, (Row{"https://a.com/1.jpg", "https://a.com/2.jpg"}));
}

TEST(CsvWriteOutput, NoColumnsStillGivesARowPerProduct) {
  const auto out = write_output_csv({}, {{}, {}}, {{"http://o/0-0.jpg"}, {}});
  EXPECT_EQ(out, "Output Image Urls\r\nhttp://o/0-0.jpg\r\n\"\"\r\n");
}

}  // namespace
}  // namespace imgbatch::csv
