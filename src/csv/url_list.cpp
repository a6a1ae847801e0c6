// split_url_list and check_url: what counts as one image URL in an "Input Image Urls" cell.
#include "csv/csv.hpp"
#include "impl/text.hpp"
#include "impl/url_syntax.hpp"

namespace imgbatch::csv {
namespace {

bool starts_with_http_scheme(std::string_view s) { return impl::http_prefix_length(s) != 0; }

std::string quoted(std::string_view url) {
  // Appended rather than `"\"" + printable(url)`, which trips GCC 12's -Wrestrict false
  // positive in Release builds.
  std::string out = "\"";
  out += impl::printable(url);
  out += '"';
  return out;
}

}  // namespace

std::vector<std::string> split_url_list(std::string_view cell) {
  std::vector<std::string> urls;
  // An item is always a contiguous run of the cell: it starts after a separator and ends
  // at the next one, and the commas it keeps are the ones between.
  std::size_t item_start = 0;
  auto cut = [&](std::size_t end) {
    if (end > item_start) urls.emplace_back(cell.substr(item_start, end - item_start));
  };
  // A comma separates when what follows the run of commas and blanks it starts is the end
  // of the cell or a new http(s) URL. Every comma of one run gets the same answer, so the
  // answer is remembered for the run: no rescanning, linear in the cell.
  std::size_t run_end = 0;
  bool run_separates = false;
  for (std::size_t i = 0; i < cell.size(); ++i) {
    const char c = cell[i];
    if (c == ',') {
      if (i >= run_end) {
        run_end = i;
        while (run_end < cell.size() && (cell[run_end] == ',' || impl::is_blank(cell[run_end])))
          ++run_end;
        run_separates = run_end == cell.size() || starts_with_http_scheme(cell.substr(run_end));
      }
      if (!run_separates) continue;
    } else if (!impl::is_blank(c)) {
      continue;
    }
    cut(i);
    item_start = i + 1;
  }
  cut(cell.size());
  return urls;
}

std::string check_url(std::string_view url, std::size_t max_length) {
  if (url.empty()) return "the URL is empty; give an absolute http:// or https:// URL";
  if (url.size() > max_length)
    return "the URL " + quoted(url) + " is " + std::to_string(url.size()) +
           " characters long; at most " + std::to_string(max_length) +
           " are accepted, so use a shorter one";
  if (impl::is_plain_http_url(url)) return {};  // the common case, decided fast

  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F)
      return "the URL " + quoted(url) +
             " contains a space or a control character; write a space as %20";
  }
  // libcurl takes any byte, but a URL that is not text cannot be a link anyone meant.
  if (impl::find_invalid_utf8(url) != std::string_view::npos)
    return "the URL " + quoted(url) +
           " has bytes that are not UTF-8 text; save the text as UTF-8 or percent-encode them";
  if (!starts_with_http_scheme(url)) {
    const auto colon = url.find("://");
    if (colon != std::string_view::npos && colon > 0)
      return "the URL " + quoted(url) + " uses the scheme \"" +
             impl::printable(url.substr(0, colon), 20) +
             "\"; only http:// and https:// URLs can be downloaded";
    return "the URL " + quoted(url) +
           " is not an absolute URL; it must start with http:// or https:// and name a host";
  }
  // "https:///x" has no host; libcurl would quietly take "x" for one.
  const std::size_t authority = impl::http_prefix_length(url);
  if (authority == url.size() || url[authority] == '/')
    return "the URL " + quoted(url) + " has no host name; write it as https://host/path";

  const auto verdict = impl::curl_check_url(url);
  if (verdict.ok) return {};
  if (verdict.no_host)
    return "the URL " + quoted(url) + " has no host name; write it as https://host/path";
  return "the URL " + quoted(url) + " is not a valid URL (" + verdict.reason +
         "); check it by opening it in a browser";
}

}  // namespace imgbatch::csv
