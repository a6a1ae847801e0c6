// csv::parse_and_validate on arbitrary bytes, with the default limits and with small ones
// (so the row, URL, length and problem limits are reached by small inputs). Besides "no
// crash, no sanitizer finding", it checks what the header promises: ok() exactly when there
// are no problems, at most max_problems of them, sorted, on lines that exist, in text that
// can go into JSON; an accepted file obeys every rule; and the output CSV written from
// accepted rows reads back to the same fields.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "csv/csv.hpp"
#include "fuzz_check.hpp"

namespace imgbatch::fuzz {
namespace {

// Lines end at LF, CRLF or a lone CR (as the reader counts them).
std::size_t physical_lines(std::string_view bytes) {
  std::size_t ends = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] == '\n' || (bytes[i] == '\r' && (i + 1 == bytes.size() || bytes[i + 1] != '\n')))
      ++ends;
  return ends + 1;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  return out;
}

void check_accepted(const csv::ParsedCsv& parsed, const csv::ParseLimits& limits) {
  require(!parsed.products.empty(), "an accepted file has at least one product");
  require(parsed.products.size() <= limits.max_rows, "an accepted file has at most max_rows");
  std::set<std::string> serials;
  for (const auto& product : parsed.products) {
    require(product.fields.size() == parsed.columns.size(), "a row has one field per column");
    require(!product.serial_number.empty(), "an accepted serial number is not empty");
    require(serials.insert(product.serial_number).second, "accepted serial numbers are unique",
            product.serial_number);
    require(!product.product_name.empty(), "an accepted product name is not empty");
    require(!product.image_urls.empty(), "an accepted product has an image URL");
    require(product.image_urls.size() <= limits.max_urls_per_product,
            "an accepted product has at most max_urls_per_product URLs");
    for (const auto& url : product.image_urls)
      require(csv::check_url(url, limits.max_url_length).empty(),
              "every accepted URL passes check_url", url);
  }
}

// The output CSV (each product's input URLs standing in for its output URLs) must parse
// back to the same header plus "Output Image Urls" and the same fields plus the URLs.
void check_round_trip(const csv::ParsedCsv& parsed, const csv::ParseLimits& limits) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<std::string>> urls;
  for (const auto& product : parsed.products) {
    rows.push_back(product.fields);
    urls.push_back(product.image_urls);
  }
  const std::string written = csv::write_output_csv(parsed.columns, rows, urls);
  const auto again = csv::parse_and_validate(written, limits);
  require(again.ok(), "the output CSV of an accepted file is accepted too",
          again.problems.empty() ? written : again.problems.front().message + " in " + written);
  auto columns = parsed.columns;
  columns.emplace_back(csv::kOutputUrlsColumn);
  require(again.csv->columns == columns, "the output CSV has the input's columns", written);
  require(again.csv->products.size() == parsed.products.size(),
          "the output CSV has one row per product", written);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto fields = rows[i];
    fields.push_back(join(urls[i]));
    require(again.csv->products[i].fields == fields, "an output row reads back field for field",
            written);
  }
}

void check_parse(std::string_view bytes, const csv::ParseLimits& limits) {
  const auto result = csv::parse_and_validate(bytes, limits);
  require(result.ok() == result.problems.empty(), "ok() exactly when there are no problems");
  require(result.problems.size() <= limits.max_problems, "at most max_problems problems");
  const std::size_t lines = physical_lines(bytes);
  int previous_line = 0;
  for (const auto& problem : result.problems) {
    require(problem.line >= 0, "a problem's line is not negative");
    require(static_cast<std::size_t>(problem.line) <= lines, "a problem's line exists");
    require(problem.line >= previous_line, "problems are sorted by line");
    previous_line = problem.line;
    require(!problem.message.empty(), "a problem says what is wrong");
    require(is_json_safe(problem.message), "a problem's message is valid UTF-8", problem.message);
    require(is_json_safe(problem.column), "a problem's column is valid UTF-8", problem.column);
  }
  if (!result.ok()) return;
  require(!result.problems_truncated, "an accepted file has no problems left out");
  check_accepted(*result.csv, limits);
  check_round_trip(*result.csv, limits);
}

}  // namespace
}  // namespace imgbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using imgbatch::csv::ParseLimits;
  const auto bytes = imgbatch::fuzz::as_text(data, size);
  imgbatch::fuzz::check_parse(bytes, ParseLimits{});
  imgbatch::fuzz::check_parse(
      bytes,
      ParseLimits{
          .max_rows = 2, .max_urls_per_product = 2, .max_url_length = 40, .max_problems = 3});
  imgbatch::fuzz::check_parse(bytes, ParseLimits{.max_rows = 1000,
                                                 .max_urls_per_product = 100,
                                                 .max_url_length = 2048,
                                                 .max_problems = 1});
  return 0;
}
