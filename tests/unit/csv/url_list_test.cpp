// split_url_list and check_url.
#include <gtest/gtest.h>

#include "csv/csv.hpp"

namespace imgbatch::csv {
namespace {

using Urls = std::vector<std::string>;

TEST(CsvSplitUrlList, CommaNotBeforeANewUrlStaysInTheUrl) {
  EXPECT_EQ(split_url_list("https://a.com/x,y.jpg, https://b.com/z.jpg"),
            (Urls{"https://a.com/x,y.jpg", "https://b.com/z.jpg"}));
  EXPECT_EQ(split_url_list("https://a.com/i?w=1,2&h=3,https://b.com/z.jpg"),
            (Urls{"https://a.com/i?w=1,2&h=3", "https://b.com/z.jpg"}));
}

TEST(CsvSplitUrlList, CommasAndBlanksSeparate) {
  EXPECT_EQ(split_url_list("https://a.com/1,https://a.com/2"),
            (Urls{"https://a.com/1", "https://a.com/2"}));
  EXPECT_EQ(split_url_list("https://a.com/1 https://a.com/2\thttps://a.com/3\r\nhttps://a.com/4"),
            (Urls{"https://a.com/1", "https://a.com/2", "https://a.com/3", "https://a.com/4"}));
  EXPECT_EQ(split_url_list("  https://a.com/1 ,\n HTTP://a.com/2  "),
            (Urls{"https://a.com/1", "HTTP://a.com/2"}));
}

TEST(CsvSplitUrlList, SchemeIsMatchedCaseInsensitively) {
  EXPECT_EQ(split_url_list("https://a.com/1,HTTPS://a.com/2,Http://a.com/3"),
            (Urls{"https://a.com/1", "HTTPS://a.com/2", "Http://a.com/3"}));
  // "httpx" is not a scheme we split at, so its comma stays in the URL before.
  EXPECT_EQ(split_url_list("https://a.com/1,httpx://a.com/2"),
            (Urls{"https://a.com/1,httpx://a.com/2"}));
}

TEST(CsvSplitUrlList, EmptyItemsAreDropped) {
  EXPECT_EQ(split_url_list(""), Urls{});
  EXPECT_EQ(split_url_list(" , ,, \n"), Urls{});
  EXPECT_EQ(split_url_list(",https://a.com/1,,, ,https://a.com/2,"),
            (Urls{"https://a.com/1", "https://a.com/2"}));
}

TEST(CsvSplitUrlList, WhitespaceAlwaysSeparates) {
  EXPECT_EQ(split_url_list("https://a.com/my photo.jpg"), (Urls{"https://a.com/my", "photo.jpg"}));
}

TEST(CsvSplitUrlList, LongRunOfCommasIsLinear) {
  // A quadratic look-ahead would take seconds here.
  std::string cell = "https://a.com/1" + std::string(2'000'000, ',') + "x";
  const auto urls = split_url_list(cell);
  ASSERT_EQ(urls.size(), 1u);
  EXPECT_EQ(urls[0].size(), cell.size());
}

TEST(CsvCheckUrl, AcceptsAbsoluteHttpAndHttpsUrls) {
  for (const char* url : {"https://a.com/x.jpg", "http://a.com", "HTTPS://A.COM/X.JPG",
                          "https://www.public-image-url1.jpg", "https://a.com:8443/p?q=1&r=2#f",
                          "http://[2001:db8::1]/x", "https://a.com/x,y.jpg",
                          "https://bücher.de/é.jpg", "http://127.0.0.1:9/x"})
    EXPECT_EQ(check_url(url), "") << url;
}

TEST(CsvCheckUrl, RejectsWithAMessageNamingTheUrl) {
  struct Case {
    const char* url;
    const char* says;
  };
  for (const auto& c :
       {Case{"ftp://a.com/x.jpg", "scheme \"ftp\""}, Case{"file:///etc/passwd", "scheme \"file\""},
        Case{"javascript:alert(1)", "not an absolute URL"},
        Case{"a.com/x.jpg", "not an absolute URL"}, Case{"/x.jpg", "not an absolute URL"},
        Case{"https:/a.com/x", "not an absolute URL"}, Case{"https:///x.jpg", "no host"},
        Case{"https://", "no host"}, Case{"https://?q", "no host"},
        Case{"https://a.com:99999/x", "not a valid URL"}, Case{"https://[::1/x", "not a valid URL"},
        Case{"https://a.com/\x01x", "control character"},
        Case{"https://a.com/\x7f", "control character"}}) {
    const auto why = check_url(c.url);
    EXPECT_NE(why.find(c.says), std::string::npos) << c.url << " -> " << why;
    const bool has_control =
        std::string_view(c.url).find_first_of("\x01\x7f") != std::string_view::npos;
    if (!has_control) {
      EXPECT_NE(why.find(std::string("\"") + c.url + "\""), std::string::npos) << why;
    }
  }
  EXPECT_NE(check_url("").find("empty"), std::string::npos);
  EXPECT_NE(check_url("https://a.com/a b").find("space"), std::string::npos);
}

TEST(CsvCheckUrl, LengthLimitIsAParameter) {
  const std::string url = "https://a.com/" + std::string(2048 - 14, 'x');
  EXPECT_EQ(check_url(url), "");
  EXPECT_NE(check_url(url + "x").find("at most 2048"), std::string::npos);
  EXPECT_NE(check_url("https://a.com/xy", 15).find("at most 15"), std::string::npos);
  EXPECT_EQ(check_url("https://a.com/xy", 16), "");
}

TEST(CsvCheckUrl, ARelativeUrlIsNotResolvedAgainstThePreviousOne) {
  // libcurl resolves a relative URL against the one its handle held before.
  ASSERT_EQ(check_url("https://a.com/x.jpg"), "");
  EXPECT_NE(check_url("y.jpg"), "");
  EXPECT_NE(check_url("//b.com/y.jpg"), "");
}

}  // namespace
}  // namespace imgbatch::csv
