// The input CSV (API.md, "The input CSV"): parsed with libcsv, validated, every problem
// reported at once. And the output CSV: the input columns plus "Output Image Urls".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::csv {

struct Problem {
  int line = 0;        // 1-based line on which the record begins; 0 when about the file
  std::string column;  // the column's canonical name, or "" when about the row/file
  std::string message;
};

struct ParseLimits {
  std::size_t max_rows = 100'000;
  std::size_t max_urls_per_product = 100;
  std::size_t max_url_length = 2048;
  std::size_t max_problems = 100;
};

struct ParsedCsv {
  std::vector<std::string> columns;  // header as uploaded (trimmed of the BOM only)
  std::vector<core::ProductInput> products;
};

struct ParseResult {
  std::optional<ParsedCsv> csv;   // set when there are no problems
  std::vector<Problem> problems;  // at most limits.max_problems
  bool ok() const { return csv.has_value(); }
};

ParseResult parse_and_validate(std::string_view bytes, const ParseLimits& limits = {});

// Splits an "Input Image Urls" cell: URLs separated by commas and/or white space; a comma
// not followed by a new http:// or https:// URL stays inside the URL before it.
std::vector<std::string> split_url_list(std::string_view cell);

// Empty string when the URL is an acceptable absolute http(s) URL, else why not.
std::string check_url(std::string_view url, std::size_t max_length = 2048);

// The output CSV: `columns` + "Output Image Urls"; one row per product with its fields,
// and its output URLs joined by "," (an empty item where an image failed).
std::string write_output_csv(const std::vector<std::string>& columns,
                             const std::vector<std::vector<std::string>>& rows,
                             const std::vector<std::vector<std::string>>& output_urls);

}  // namespace imgbatch::csv
