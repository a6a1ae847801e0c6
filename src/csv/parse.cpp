// parse_and_validate: the rules of docs/API.md, "The CSV", over the records that
// impl::read_records finds. Every problem is collected (up to the limit) rather than
// stopping at the first, so a user fixes a file in one round.
#include <algorithm>
#include <array>
#include <optional>
#include <unordered_map>

#include "csv/csv.hpp"
#include "impl/record_reader.hpp"
#include "impl/text.hpp"

namespace imgbatch::csv {
namespace {

enum Required : std::size_t { kSerial = 0, kName = 1, kUrls = 2, kRequiredCount = 3 };

constexpr std::array<std::string_view, kRequiredCount> kCanonical = {kSerialColumn, kNameColumn,
                                                                     kUrlsColumn};

std::optional<Required> match_required(std::string_view header_cell) {
  const std::string_view name = impl::trim(header_cell);
  for (std::string_view alias : {"S. No.", "S.No.", "S No", "Serial Number"})
    if (impl::iequals(name, alias)) return kSerial;
  if (impl::iequals(name, "Product Name")) return kName;
  for (std::string_view alias : {"Input Image Urls", "URLs"})
    if (impl::iequals(name, alias)) return kUrls;
  return std::nullopt;
}

std::string missing_column_message(Required which) {
  switch (which) {
    case kSerial:
      return "the header has no \"S. No.\" column (also accepted: \"S.No.\", \"S No\", "
             "\"Serial Number\"); add it to the first row, with a unique serial number for "
             "each product";
    case kName:
      return "the header has no \"Product Name\" column; add it to the first row, with a name "
             "for each product";
    default:
      return "the header has no \"Input Image Urls\" column (also accepted: \"URLs\"); add it "
             "to the first row, with the image URLs of each product";
  }
}

class Validator final : public impl::RecordSink {
 public:
  Validator(const ParseLimits& limits, std::size_t input_bytes) : limits_(limits) {
    // A row takes at least a few dozen bytes; sizing the serial set up front saves rehashing.
    first_line_of_serial_.reserve(std::min(limits.max_rows, input_bytes / 32) + 1);
  }

  void on_record(int line, std::vector<std::string>& fields) override {
    if (!header_seen_) {
      read_header(line, fields);
      return;
    }
    if (header_broken_) return;
    if (std::all_of(fields.begin(), fields.end(),
                    [](const std::string& f) { return impl::is_all_blank(f); }))
      return;  // a spreadsheet's leftover ",,," row: as blank as an empty line
    if (++rows_seen_ > limits_.max_rows) {
      add(line, "",
          "the file has more than " + std::to_string(limits_.max_rows) + " products; at most " +
              std::to_string(limits_.max_rows) +
              " are accepted in one upload, so split it into several files");
      row_limit_hit_ = true;
      return;
    }
    read_row(line, fields);
  }

  void on_misplaced_quote(int line, std::size_t field_index) override {
    count_broken_record();
    add(line, column_label(field_index),
        "a double quote is in the wrong place: a value that contains quotes must be wrapped "
        "in double quotes as a whole, every quote inside it doubled (\"\"), and only a comma or "
        "the end of the line may follow the closing quote");
  }

  void on_unterminated_quote(int line, std::size_t field_index) override {
    count_broken_record();
    add(line, column_label(field_index),
        "a quoted value that starts in this record never ends, so the rest of the file was "
        "read as part of it; add the closing double quote (\")");
  }

  void on_invalid_utf8(int line, std::size_t byte) override {
    add(line, "",
        "this line has bytes that are not UTF-8 text (the first at character " +
            std::to_string(byte + 1) + "); save the file as UTF-8 (in Excel: \"CSV UTF-8\")");
  }

  bool done() const override { return row_limit_hit_ || problems_.size() >= limits_.max_problems; }

  ParseResult finish(bool read_to_end) && {
    if (!header_seen_ && problems_.empty())
      add(0, "",
          "the file is empty; upload a CSV file with a header row (S. No., Product Name, "
          "Input Image Urls) and one row per product");
    else if (header_seen_ && !header_broken_ && rows_seen_ == 0)
      add(0, "", "the file has a header but no products; add one row per product below the header");

    ParseResult result;
    result.problems_truncated = truncated_ || (!read_to_end && !row_limit_hit_);
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    result.problems = std::move(problems_);
    if (result.problems.empty()) result.csv = ParsedCsv{std::move(columns_), std::move(products_)};
    return result;
  }

 private:
  void add(int line, std::string column, std::string message) {
    if (problems_.size() >= limits_.max_problems) {
      truncated_ = true;
      return;
    }
    problems_.push_back(Problem{line, std::move(column), std::move(message)});
  }

  void count_broken_record() {
    if (!header_seen_) {
      // Without a readable header no row can be checked; quoting and UTF-8 are still told.
      header_seen_ = true;
      header_broken_ = true;
    } else {
      ++rows_seen_;
    }
  }

  std::string column_label(std::size_t index) const {
    for (std::size_t r = 0; r < kRequiredCount; ++r)
      if (index_[r] == index) return std::string(kCanonical[r]);
    if (index < columns_.size()) return impl::printable(impl::trim(columns_[index]), 60);
    return "";
  }

  void read_header(int line, std::vector<std::string>& fields) {
    header_seen_ = true;
    columns_ = fields;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto which = match_required(fields[i]);
      if (!which) continue;
      if (index_[*which]) {
        add(line, std::string(kCanonical[*which]),
            "the header has more than one \"" + std::string(kCanonical[*which]) +
                "\" column (columns " + std::to_string(*index_[*which] + 1) + " and " +
                std::to_string(i + 1) + "); keep only one");
        continue;
      }
      index_[*which] = i;
    }
    for (std::size_t r = 0; r < kRequiredCount; ++r)
      if (!index_[r])
        add(line, std::string(kCanonical[r]), missing_column_message(static_cast<Required>(r)));
  }

  void read_row(int line, std::vector<std::string>& fields) {
    if (fields.size() != columns_.size()) {
      const bool more = fields.size() > columns_.size();
      add(line, "",
          "this row has " + std::to_string(fields.size()) + " values but the header has " +
              std::to_string(columns_.size()) + " columns; " +
              (more ? "put any value that contains a comma in double quotes"
                    : "give every column a value (an empty value still needs its comma)"));
      return;
    }
    core::ProductInput product;

    if (index_[kSerial]) {
      product.serial_number = std::string(impl::trim(fields[*index_[kSerial]]));
      if (product.serial_number.empty()) {
        add(line, std::string(kSerialColumn),
            "the serial number is empty; give every product a unique serial number");
      } else {
        const auto [it, inserted] = first_line_of_serial_.try_emplace(product.serial_number, line);
        if (!inserted)
          add(line, std::string(kSerialColumn),
              "serial number " + impl::printable(product.serial_number, 60) +
                  " appears again (first on line " + std::to_string(it->second) +
                  "); serial numbers must be unique");
      }
    }
    if (index_[kName]) {
      product.product_name = std::string(impl::trim(fields[*index_[kName]]));
      if (product.product_name.empty())
        add(line, std::string(kNameColumn), "the product name is empty; give every product a name");
    }
    if (index_[kUrls]) {
      product.image_urls = split_url_list(fields[*index_[kUrls]]);
      check_urls(line, product.image_urls);
    }
    if (!problems_.empty() || truncated_)
      return;  // the file is rejected: keeping rows would only cost memory
    product.fields = std::move(fields);
    products_.push_back(std::move(product));
  }

  void check_urls(int line, const std::vector<std::string>& urls) {
    const std::string column(kUrlsColumn);
    if (urls.empty()) {
      add(line, column, "there is no image URL; give at least one http:// or https:// URL");
      return;
    }
    if (urls.size() > limits_.max_urls_per_product)
      add(line, column,
          "this product has " + std::to_string(urls.size()) + " image URLs; at most " +
              std::to_string(limits_.max_urls_per_product) +
              " are accepted per product, so split it into several products");
    for (const auto& url : urls) {
      if (truncated_) return;  // a cell of a million bad URLs must not take a million checks
      if (auto why = check_url(url, limits_.max_url_length); !why.empty())
        add(line, column, std::move(why));
    }
  }

  const ParseLimits& limits_;
  bool header_seen_ = false;
  bool header_broken_ = false;
  bool row_limit_hit_ = false;
  bool truncated_ = false;
  std::size_t rows_seen_ = 0;
  std::vector<std::string> columns_;
  std::array<std::optional<std::size_t>, kRequiredCount> index_{};
  std::unordered_map<std::string, int> first_line_of_serial_;
  std::vector<core::ProductInput> products_;
  std::vector<Problem> problems_;
};

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

ParseResult parse_and_validate(std::string_view bytes, const ParseLimits& limits) {
  if (bytes.starts_with(kUtf8Bom)) bytes.remove_prefix(kUtf8Bom.size());
  if (bytes.starts_with("\xFF\xFE") || bytes.starts_with("\xFE\xFF")) {
    ParseResult result;
    result.problems.push_back(
        Problem{1, "",
                "the file is UTF-16 text; save it as UTF-8 (in Excel: \"CSV UTF-8\") and upload it "
                "again"});
    return result;
  }
  Validator validator(limits, bytes.size());
  const bool read_to_end = impl::read_records(bytes, validator);
  return std::move(validator).finish(read_to_end);
}

}  // namespace imgbatch::csv
