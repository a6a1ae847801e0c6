// Source keys (issue 15): one source is one key however its URL is written, and anything
// that changes the output, or another tenant, makes another key.
#include "intake/source_key.hpp"

#include <gtest/gtest.h>

namespace imgbatch::intake {
namespace {

core::NewRequest request_of(std::vector<std::string> urls) {
  core::NewRequest request;
  core::ProductInput product;
  product.serial_number = "1";
  product.product_name = "Shirt";
  product.image_urls = std::move(urls);
  request.products.push_back(product);
  return request;
}

TEST(SourceKey, OneSourceHoweverItsUrlIsWritten) {
  EXPECT_EQ(normalised_url("HTTPS://Img.Example.COM:443/a/B.jpg?x=1#top"),
            "https://img.example.com/a/B.jpg?x=1");
  EXPECT_EQ(normalised_url("http://img.example.com:80/a.jpg"), "http://img.example.com/a.jpg");
  EXPECT_EQ(normalised_url("http://img.example.com:8080/a.jpg"),
            "http://img.example.com:8080/a.jpg");
  const auto request = request_of({});
  const std::string key = source_key("", "https://img.example.com/a/B.jpg", request);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(source_key("", "HTTPS://IMG.example.com:443/a/B.jpg#f", request), key);
  // The path and the query are the server's to interpret: their case counts.
  EXPECT_NE(source_key("", "https://img.example.com/a/b.jpg", request), key);
  EXPECT_NE(source_key("", "https://img.example.com/a/B.jpg?v=2", request), key);
}

TEST(SourceKey, OutputSettingsAndTenantsMakeOtherKeys) {
  const std::string url = "https://img.example.com/a.jpg";
  const auto plain = request_of({});
  const std::string key = source_key("", url, plain);
  EXPECT_NE(source_key("key_1", url, plain), key);
  auto other = plain;
  other.quality = 80;
  EXPECT_NE(source_key("", url, other), key);
  other = plain;
  other.format = core::ImageFormat::webp;
  EXPECT_NE(source_key("", url, other), key);
  other = plain;
  other.choices.quality_target = 0.93;
  EXPECT_NE(source_key("", url, other), key);
  other = plain;
  other.choices.max_bytes = 100'000;
  EXPECT_NE(source_key("", url, other), key);
  other = plain;
  other.choices.never_larger = !plain.choices.never_larger;
  EXPECT_NE(source_key("", url, other), key);
  other = plain;
  other.choices.sizes = {{"thumb", 200, 200}};
  EXPECT_NE(source_key("", url, other), key);
  // The floor of max_bytes and quality=auto (--min-quality of the node that took it).
  other = plain;
  other.choices.min_quality = 30;
  EXPECT_NE(source_key("", url, other), key);
  other.choices.min_quality = core::kDefaultMinQuality;
  EXPECT_EQ(source_key("", url, other), key);
  // What does not change the output changes nothing.
  other = plain;
  other.webhook_url = "https://hooks.example.com/x";
  other.id = "another";
  EXPECT_EQ(source_key("", url, other), key);
}

TEST(SourceKey, EveryImageOfARequestGetsItsKeyInOrder) {
  auto request = request_of({"https://a.example/1.jpg", "https://a.example/2.jpg"});
  core::ProductInput second;
  second.image_urls = {"https://A.example/1.jpg"};
  request.products.push_back(second);
  share_sources(request, "key_7");
  ASSERT_EQ(request.source_keys.size(), 3u);
  EXPECT_EQ(request.source_keys[0], source_key("key_7", "https://a.example/1.jpg", request));
  EXPECT_EQ(request.source_keys[1], source_key("key_7", "https://a.example/2.jpg", request));
  EXPECT_EQ(request.source_keys[2], request.source_keys[0]) << "the same photo in two rows";
}

}  // namespace
}  // namespace imgbatch::intake
