// The fast path of check_url must never accept a URL that libcurl rejects.
#include <gtest/gtest.h>

#include <random>

#include "csv/csv.hpp"
#include "csv/impl/url_syntax.hpp"

namespace imgbatch::csv::impl {
namespace {

TEST(CsvUrlSyntax, PlainUrlsTakeTheFastPath) {
  for (const char* url :
       {"https://a.com", "http://a.com/", "HTTPS://WWW.A-B.C0M/x.jpg",
        "https://www.public-image-url1.jpg", "https://a.com:8080/p/q?x=1&y=%2F#top",
        "https://cdn.shop.example/img/(1)/a+b,c;d=e@f:g~h!i$j'k*.jpg"})
    EXPECT_TRUE(is_plain_http_url(url)) << url;
}

TEST(CsvUrlSyntax, AnythingUnusualIsLeftToLibcurl) {
  for (const char* url :
       {"ftp://a.com/x",        "https://",          "https://a.com:0/",    "https://a.com:65536/",
        "https://a.com:/x",     "https://1.2.3.4/x", "https://0x7f.1/x",    "https://[::1]/x",
        "https://user@a.com/x", "https://a_b.com/x", "https://a..com/x",    "https://-a.com/x",
        "https://a-.com/x",     "https://a.com./x",  "https://bücher.de/x", "https://a.com/é",
        "https://a.com/%zz",    "https://a.com/%4",  "https://a.com/x#a#b", "https://a.com/a b",
        "https://a.com/<x>",    "https://a.com/\"x", "https://a.com\\x",    "https://a.com/{x}"})
    EXPECT_FALSE(is_plain_http_url(url)) << url;
}

TEST(CsvUrlSyntax, WhatTheFastPathAcceptsLibcurlAccepts) {
  // Mostly plausible pieces, sometimes odd ones, so both answers of the fast path are hit.
  const std::vector<std::string> host_pieces = {"a", "Z", "0", "9", "-", ".", "com", "xn--", "1.2"};
  const std::vector<std::string> odd_host_pieces = {"_", "é", "@", "..", "[", "%41"};
  const std::vector<std::string> joints = {"", "/", "?", "#", ":443/", ":0", ":99999", ":", "\\"};
  const std::vector<std::string> rest_pieces = {"a", "Z", "0",   "-", ".", "/", "?", "#",
                                                ":", "@", "%2F", "~", "!", "$", "&", "'",
                                                "(", ")", "*",   "+", ",", ";", "="};
  const std::vector<std::string> odd_rest_pieces = {"%", "%zz", "_", "[", "]",  "é", " ",
                                                    "|", "{",   "^", "`", "\"", "<"};
  std::mt19937 rng(4242);
  auto pick = [&](const std::vector<std::string>& usual, const std::vector<std::string>& odd,
                  int max) {
    std::string s;
    const int n = std::uniform_int_distribution<int>(1, max)(rng);
    for (int i = 0; i < n; ++i)
      s += (rng() % 10 == 0) ? odd[rng() % odd.size()] : usual[rng() % usual.size()];
    return s;
  };
  int fast = 0;
  int slow = 0;
  for (int round = 0; round < 20'000; ++round) {
    const std::string url = std::string((round % 2) ? "https://" : "HTTP://") +
                            pick(host_pieces, odd_host_pieces, 5) + joints[rng() % joints.size()] +
                            pick(rest_pieces, odd_rest_pieces, 8);
    if (!is_plain_http_url(url)) {
      ++slow;
      continue;
    }
    ++fast;
    EXPECT_TRUE(curl_check_url(url).ok) << url << ": " << curl_check_url(url).reason;
    EXPECT_EQ(check_url(url), "") << url;
  }
  EXPECT_GT(fast, 500);  // the generator does reach both paths
  EXPECT_GT(slow, 2000);
}

TEST(CsvUrlSyntax, LibcurlStillDecidesTheRest) {
  EXPECT_TRUE(curl_check_url("https://1.2.3.4/x").ok);
  EXPECT_TRUE(curl_check_url("https://[::1]/x").ok);
  EXPECT_TRUE(curl_check_url("https://bücher.de/x").ok);
  EXPECT_TRUE(curl_check_url("https://a_b.com/x").ok);
  const auto port = curl_check_url("https://a.com:65536/");
  EXPECT_FALSE(port.ok);
  EXPECT_FALSE(port.no_host);
  EXPECT_FALSE(port.reason.empty());
  EXPECT_TRUE(curl_check_url("https://user@/x").no_host);
}

}  // namespace
}  // namespace imgbatch::csv::impl
