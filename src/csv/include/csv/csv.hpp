// The input CSV (docs/API.md, "The CSV"): parsed with libcsv (RFC 4180, strict quoting),
// validated, and every problem reported at once, each on the 1-based line where its record
// begins and with a message that says what is wrong and what to do. And the output CSV:
// the input columns plus "Output Image Urls", written so that it parses back to the same
// fields. Parsing is linear in the input (a 10,000-row file takes milliseconds) because it
// sits on the POST /upload path.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::csv {

// Canonical names of the required columns; a Problem's `column` uses them.
inline constexpr std::string_view kSerialColumn = "S. No.";
inline constexpr std::string_view kNameColumn = "Product Name";
inline constexpr std::string_view kUrlsColumn = "Input Image Urls";
inline constexpr std::string_view kOutputUrlsColumn = "Output Image Urls";

struct Problem {
  int line = 0;        // 1-based line on which the record begins; 0 when about the file
  std::string column;  // the column's canonical name (another column: its header text),
                       // or "" when about the row or the file
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
  std::optional<ParsedCsv> csv;     // set when there are no problems
  std::vector<Problem> problems;    // sorted by line; at most limits.max_problems
  bool problems_truncated = false;  // more problems were found (or may exist) than listed
  bool ok() const { return csv.has_value(); }
};

// Messages and values quoted in them are valid UTF-8 whatever the input, so they can go
// into JSON as they are. Rows whose fields are all blank (e.g. ",,," left behind by a
// spreadsheet) are skipped like blank lines.
ParseResult parse_and_validate(std::string_view bytes, const ParseLimits& limits = {});

// Splits an "Input Image Urls" cell: URLs separated by commas and/or white space; a comma
// not followed by a new http:// or https:// URL stays inside the URL before it.
std::vector<std::string> split_url_list(std::string_view cell);

// Empty string when the URL is an acceptable absolute http(s) URL, else a sentence that
// names the URL and says why not (usable for any URL a user hands in, e.g. a webhook).
std::string check_url(std::string_view url, std::size_t max_length = 2048);

// The output CSV: `columns` + "Output Image Urls"; one row per product with its fields,
// and its output URLs joined by "," (an empty item where an image failed). CRLF line ends;
// a field is quoted when it holds a comma, quote, CR/LF or leading/trailing blanks, or
// starts with U+FEFF (which a reader would otherwise drop as a byte-order mark).
// Columns named `extra_headers` follow "Output Image Urls"; `extra_items[row][column]` are
// that field's items, joined by "," as the URLs are (the sizes' URLs, the per-image report).
std::string write_output_csv(
    const std::vector<std::string>& columns, const std::vector<std::vector<std::string>>& rows,
    const std::vector<std::vector<std::string>>& output_urls,
    const std::vector<std::string>& extra_headers = {},
    const std::vector<std::vector<std::vector<std::string>>>& extra_items = {});

}  // namespace imgbatch::csv
