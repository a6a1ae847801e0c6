#include "impl/url_syntax.hpp"

#include <curl/curl.h>

#include <array>
#include <memory>
#include <new>

namespace imgbatch::csv::impl {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_hex(char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

// RFC 3986 pchar minus '%' (handled apart), plus '/' and '?'.
constexpr auto kPathChars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (unsigned char c : std::string_view("-._~!$&'()*+,;=:@/?")) table[c] = true;
  return table;
}();

struct UrlHandleDeleter {
  void operator()(CURLU* h) const { curl_url_cleanup(h); }
};

}  // namespace

std::size_t http_prefix_length(std::string_view url) {
  auto is = [&](std::size_t i, char lower) { return i < url.size() && (url[i] | 0x20) == lower; };
  if (!(is(0, 'h') && is(1, 't') && is(2, 't') && is(3, 'p'))) return 0;
  std::size_t i = 4;
  if (is(i, 's')) ++i;
  return url.substr(i).starts_with("://") ? i + 3 : 0;
}

bool is_plain_http_url(std::string_view url) {
  std::size_t i = http_prefix_length(url);
  if (i == 0) return false;

  // Host: LDH labels separated by single dots; the last label starts with a letter so
  // nothing here is an IPv4 address in any of the forms libcurl normalises.
  bool last_label_starts_with_letter = false;
  for (;;) {
    if (i >= url.size() || !is_alnum(url[i])) return false;
    last_label_starts_with_letter = is_alpha(url[i]);
    while (i < url.size() && (is_alnum(url[i]) || url[i] == '-')) ++i;
    if (url[i - 1] == '-') return false;
    if (i < url.size() && url[i] == '.') {
      ++i;
      continue;
    }
    break;
  }
  if (!last_label_starts_with_letter) return false;

  if (i < url.size() && url[i] == ':') {
    ++i;
    unsigned port = 0;
    std::size_t digits = 0;
    while (i < url.size() && is_digit(url[i]) && digits < 6) {
      port = port * 10 + static_cast<unsigned>(url[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || port == 0 || port > 65535) return false;
  }
  if (i == url.size()) return true;
  if (url[i] != '/' && url[i] != '?' && url[i] != '#') return false;

  bool in_fragment = false;
  for (; i < url.size(); ++i) {
    const char c = url[i];
    if (c == '%') {
      if (i + 2 >= url.size() || !is_hex(url[i + 1]) || !is_hex(url[i + 2])) return false;
      i += 2;
    } else if (c == '#') {
      if (in_fragment) return false;
      in_fragment = true;
    } else if (!kPathChars[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  return true;
}

CurlVerdict curl_check_url(std::string_view url) {
  // One handle per thread, reused: curl_url() allocates. The caller passes only absolute
  // URLs, so the handle never resolves `url` against the one it held before (which
  // libcurl does for a relative URL).
  thread_local std::unique_ptr<CURLU, UrlHandleDeleter> handle(curl_url());
  thread_local std::string terminated;  // libcurl wants a NUL-terminated string
  if (!handle) throw std::bad_alloc();
  terminated.assign(url);
  const CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, terminated.c_str(), 0);
  if (rc == CURLUE_OK) return {};
  return CurlVerdict{false, rc == CURLUE_NO_HOST, curl_url_strerror(rc)};
}

}  // namespace imgbatch::csv::impl
