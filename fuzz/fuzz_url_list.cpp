// csv::split_url_list and csv::check_url on arbitrary cells. split_url_list must only cut:
// its URLs are non-empty runs of the cell, in order, holding no white space, and what lies
// between them is commas and white space only. check_url must answer any string (it also
// checks webhook URLs) without throwing, in text that can go into JSON, and accept only
// short absolute http(s) URLs of UTF-8 text without spaces or control characters.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "csv/csv.hpp"
#include "fuzz_check.hpp"

namespace imgbatch::fuzz {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool starts_with_http_scheme(std::string_view url) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  return lower(url.substr(0, 7)) == "http://" || lower(url.substr(0, 8)) == "https://";
}

void check_url_verdict(std::string_view url, std::size_t max_length) {
  const std::string why = csv::check_url(url, max_length);
  require(is_json_safe(why), "check_url's message is valid UTF-8", why);
  if (!why.empty()) return;
  require(!url.empty() && url.size() <= max_length, "an accepted URL is 1 to max_length long", url);
  require(starts_with_http_scheme(url), "an accepted URL is http:// or https://", url);
  require(is_json_safe(url), "an accepted URL is UTF-8 text", url);
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    require(u > 0x20 && u != 0x7F, "an accepted URL has no space or control character", url);
  }
}

void check_split(std::string_view cell) {
  const auto urls = csv::split_url_list(cell);
  std::size_t pos = 0;
  for (const auto& url : urls) {
    require(!url.empty(), "split_url_list returns no empty URL");
    for (char c : url) require(!is_space(c), "a split URL holds no white space", url);
    const std::size_t at = cell.find(url, pos);
    require(at != std::string_view::npos, "a split URL is a run of the cell, in order", url);
    for (std::size_t i = pos; i < at; ++i)
      require(cell[i] == ',' || is_space(cell[i]),
              "only commas and white space lie between split URLs", cell);
    pos = at + url.size();
    check_url_verdict(url, 2048);
  }
  for (std::size_t i = pos; i < cell.size(); ++i)
    require(cell[i] == ',' || is_space(cell[i]),
            "only commas and white space follow the last split URL", cell);
}

}  // namespace
}  // namespace imgbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto cell = imgbatch::fuzz::as_text(data, size);
  imgbatch::fuzz::check_split(cell);
  // The whole input as one URL, as a webhook_url field would be checked.
  imgbatch::fuzz::check_url_verdict(cell, 2048);
  imgbatch::fuzz::check_url_verdict(cell, 24);
  return 0;
}
