// Random input, fixed seeds: whatever the bytes, the parser answers with well-formed
// problems, and whatever the field values, written output reads back the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "csv/impl/text.hpp"
#include "csv_test_util.hpp"

namespace imgbatch::csv {
namespace {

TEST(CsvRobustness, RandomBytesGiveSortedValidProblems) {
  const std::vector<std::string> pieces = {",",       "\"",          "\n",
                                           "\r",      "\r\n",        " ",
                                           "a",       "7",           "é",
                                           "\xFF",    "\xE2\x82",    "https://a.com/x",
                                           "ftp://b", "S. No.",      "Product Name",
                                           "URLs",    "\xEF\xBB\xBF"};
  std::mt19937 rng(12345);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const int n = std::uniform_int_distribution<int>(0, 120)(rng);
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    if (round % 2) text = "S. No.,Product Name,URLs\n" + text;

    ParseLimits limits;
    limits.max_problems = 10;
    const auto r = parse_and_validate(text, limits);
    EXPECT_EQ(r.ok(), r.problems.empty());
    EXPECT_LE(r.problems.size(), 10u);
    EXPECT_TRUE(std::is_sorted(r.problems.begin(), r.problems.end(),
                               [](const Problem& a, const Problem& b) { return a.line < b.line; }));
    const int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n') +
                                           std::count(text.begin(), text.end(), '\r'));
    for (const auto& p : r.problems) {
      EXPECT_GE(p.line, 0);
      EXPECT_LE(p.line, lines);
      EXPECT_FALSE(p.message.empty());
      EXPECT_EQ(impl::find_invalid_utf8(p.message), std::string::npos) << p.message;
      EXPECT_EQ(impl::find_invalid_utf8(p.column), std::string::npos) << p.column;
    }
    if (r.ok()) {
      for (const auto& product : r.csv->products) {
        EXPECT_FALSE(product.serial_number.empty());
        EXPECT_FALSE(product.image_urls.empty());
        for (const auto& url : product.image_urls) EXPECT_EQ(check_url(url), "") << url;
      }
    }
  }
}

TEST(CsvRobustness, RandomFieldValuesRoundTripThroughOutputCsv) {
  const std::vector<std::string> pieces = {",", "\"", "\n", "\r", "\r\n", " ",   "\t",
                                           "a", "Z",  "é",  "🍮",  "\"\"", "x,y", "0"};
  std::mt19937 rng(777);
  auto random_text = [&](int max_pieces) {
    std::string s;
    const int n = std::uniform_int_distribution<int>(0, max_pieces)(rng);
    for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
    return s;
  };
  for (int round = 0; round < 50; ++round) {
    const std::vector<std::string> columns = {"Notes", "S. No.", "Product Name", "Input Image Urls",
                                              random_text(4)};
    std::vector<std::vector<std::string>> rows;
    std::vector<std::vector<std::string>> outputs;
    for (int i = 0; i < 20; ++i) {
      rows.push_back({random_text(6), std::to_string(i), "name " + random_text(6),
                      "https://a.com/" + std::to_string(i) + ".jpg", random_text(6)});
      outputs.push_back({"http://o/" + std::to_string(i) + "-0.jpg", ""});
    }
    const auto text = write_output_csv(columns, rows, outputs);
    const auto r = parse_and_validate(text);
    ASSERT_TRUE(r.ok()) << describe(r) << "\n" << text;
    auto expected_columns = columns;
    expected_columns.push_back("Output Image Urls");
    EXPECT_EQ(r.csv->columns, expected_columns);
    ASSERT_EQ(r.csv->products.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto expected = rows[i];
      expected.push_back("http://o/" + std::to_string(i) + "-0.jpg,");
      EXPECT_EQ(r.csv->products[i].fields, expected);
    }
  }
}

}  // namespace
}  // namespace imgbatch::csv
