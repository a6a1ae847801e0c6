// write_output_csv: RFC 4180 output that parse_and_validate reads back field for field.
#include <string>

#include "csv/csv.hpp"

namespace imgbatch::csv {
namespace {

bool needs_quotes(std::string_view field) {
  if (field.find_first_of(",\"\r\n") != std::string_view::npos) return true;
  // At the start of the file a U+FEFF would be read back as a byte-order mark and dropped.
  if (field.starts_with("\xEF\xBB\xBF")) return true;
  // libcsv drops blanks around an unquoted field; quoting keeps them.
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  return !field.empty() && (blank(field.front()) || blank(field.back()));
}

void append_field(std::string& out, std::string_view field) {
  if (!needs_quotes(field)) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// `fields`, then `tail` (at least one field).
void append_row(std::string& out, const std::vector<std::string>& fields,
                const std::vector<std::string>& tail) {
  for (const auto& f : fields) {
    append_field(out, f);
    out += ',';
  }
  // A row made of one empty field would be a blank line, which readers skip.
  if (fields.empty() && tail.size() == 1 && tail.front().empty()) {
    out += "\"\"\r\n";
    return;
  }
  for (std::size_t i = 0; i < tail.size(); ++i) {
    if (i) out += ',';
    append_field(out, tail[i]);
  }
  out += "\r\n";
}

std::string join_urls(const std::vector<std::string>& urls) {
  std::string joined;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    if (i) joined += ',';
    joined += urls[i];
  }
  return joined;
}

}  // namespace

std::string write_output_csv(
    const std::vector<std::string>& columns, const std::vector<std::vector<std::string>>& rows,
    const std::vector<std::vector<std::string>>& output_urls,
    const std::vector<std::string>& extra_headers,
    const std::vector<std::vector<std::vector<std::string>>>& extra_items) {
  std::string out;
  std::vector<std::string> tail{std::string(kOutputUrlsColumn)};
  tail.insert(tail.end(), extra_headers.begin(), extra_headers.end());
  append_row(out, columns, tail);
  const std::vector<std::string> none;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    tail.assign(1, join_urls(i < output_urls.size() ? output_urls[i] : none));
    for (std::size_t c = 0; c < extra_headers.size(); ++c) {
      const bool given = i < extra_items.size() && c < extra_items[i].size();
      tail.push_back(join_urls(given ? extra_items[i][c] : none));
    }
    append_row(out, rows[i], tail);
  }
  return out;
}

}  // namespace imgbatch::csv
