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

void append_row(std::string& out, const std::vector<std::string>& fields, std::string_view last) {
  for (const auto& f : fields) {
    append_field(out, f);
    out += ',';
  }
  // A row made of one empty field would be a blank line, which readers skip.
  if (fields.empty() && last.empty())
    out += "\"\"";
  else
    append_field(out, last);
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

std::string write_output_csv(const std::vector<std::string>& columns,
                             const std::vector<std::vector<std::string>>& rows,
                             const std::vector<std::vector<std::string>>& output_urls) {
  std::string out;
  append_row(out, columns, kOutputUrlsColumn);
  const std::vector<std::string> none;
  for (std::size_t i = 0; i < rows.size(); ++i)
    append_row(out, rows[i], join_urls(i < output_urls.size() ? output_urls[i] : none));
  return out;
}

}  // namespace imgbatch::csv
