// The two ways check_url decides that a URL parses. libcurl's URL parser (curl_url) is the
// authority, but it costs about half a microsecond a URL, the largest part of validating a
// big upload; most image URLs are plain (letters-and-digits host, ASCII path), so a strict
// RFC 3986 subset that libcurl always accepts is checked first and libcurl only asked
// about the rest. A test holds the subset to that promise.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace imgbatch::csv::impl {

// Length of "http://" or "https://" (any case) when `url` starts with it, else 0.
std::size_t http_prefix_length(std::string_view url);

// True for "http(s)://" + a DNS name whose last label starts with a letter + an optional
// port 1-65535 + an optional path, query and fragment of RFC 3986 characters (percent
// escapes well-formed). False means "ask libcurl", not "bad".
bool is_plain_http_url(std::string_view url);

struct CurlVerdict {
  bool ok = true;
  bool no_host = false;  // the most common way an absolute URL fails; worded apart
  std::string reason;    // libcurl's, when not ok
};

// libcurl's verdict on an absolute http(s) URL.
CurlVerdict curl_check_url(std::string_view url);

}  // namespace imgbatch::csv::impl
