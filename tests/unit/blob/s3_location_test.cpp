#include "s3_location.hpp"

#include <gtest/gtest.h>

namespace imgbatch::blob {
namespace {

TEST(S3Location, AwsIsVirtualHostedInTheRegion) {
  const auto location = parse_s3_location("s3://shop-images/imgbatch/", "", "eu-central-1");
  ASSERT_TRUE(location.ok()) << location.message();
  EXPECT_EQ(location->bucket, "shop-images");
  EXPECT_EQ(location->prefix, "imgbatch");
  EXPECT_EQ(location->host, "shop-images.s3.eu-central-1.amazonaws.com");
  EXPECT_EQ(location->object_url("REQ/0-1.jpg"),
            "https://shop-images.s3.eu-central-1.amazonaws.com/imgbatch/REQ/0-1.jpg");
  EXPECT_EQ(location->probe_url(),
            "https://shop-images.s3.eu-central-1.amazonaws.com/"
            "?list-type=2&max-keys=1&prefix=imgbatch%2F");
}

// AWS's certificate for *.s3.REGION.amazonaws.com covers one label: "shop.images.s3…"
// would fail the TLS host check, so a dotted bucket is addressed path-style.
TEST(S3Location, AwsBucketWithADotIsPathStyle) {
  const auto location = parse_s3_location("s3://shop.images/p", "", "eu-west-1");
  ASSERT_TRUE(location.ok()) << location.message();
  EXPECT_EQ(location->host, "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(location->object_url("REQ/0-1.jpg"),
            "https://s3.eu-west-1.amazonaws.com/shop.images/p/REQ/0-1.jpg");
  EXPECT_EQ(location->probe_url(),
            "https://s3.eu-west-1.amazonaws.com/shop.images/?list-type=2&max-keys=1&prefix=p%2F");
}

TEST(S3Location, AnEndpointIsPathStyle) {
  const auto location = parse_s3_location("s3://images", "http://127.0.0.1:7480/", "us-east-1");
  ASSERT_TRUE(location.ok()) << location.message();
  EXPECT_EQ(location->prefix, "");
  EXPECT_EQ(location->host, "127.0.0.1:7480");
  EXPECT_EQ(location->object_url("REQ/0-1.jpg"), "http://127.0.0.1:7480/images/REQ/0-1.jpg");
  EXPECT_EQ(location->probe_url(), "http://127.0.0.1:7480/images/?list-type=2&max-keys=1");
  EXPECT_EQ(location->describe(), "s3://images at http://127.0.0.1:7480");
  // A default port is not part of the Host a client sends.
  EXPECT_EQ(parse_s3_location("s3://images/a/b", "https://s3.example.com:443", "x")->host,
            "s3.example.com");
  EXPECT_EQ(parse_s3_location("s3://images/a/b", "https://s3.example.com:443", "x")
                ->object_path("R/N.jpg"),
            "/images/a/b/R/N.jpg");
  // The host in lower case, as a browser sends it: presigned links are signed for it.
  const auto upper = parse_s3_location("s3://images", "HTTP://Ceph.Example:7480", "x");
  ASSERT_TRUE(upper.ok()) << upper.message();
  EXPECT_EQ(upper->host, "ceph.example:7480");
  EXPECT_EQ(upper->object_url("R/N.jpg"), "http://ceph.example:7480/images/R/N.jpg");
}

TEST(S3Location, BadUrisAreRefusedSayingWhy) {
  struct Case {
    const char* uri;
    const char* endpoint;
    const char* says;
  };
  for (const auto& c : std::initializer_list<Case>{
           {"s3://", "", "is not a bucket name"},
           {"s3://Shop", "", "is not a bucket name"},
           {"s3://ab", "", "is not a bucket name"},
           {"s3://shop_images", "", "is not a bucket name"},
           {"s3://shop/a b", "", "the prefix"},
           {"s3://shop/a//b", "", "the prefix"},
           {"s3://shop/a?b", "", "the prefix"},
           {"s3://shop", "127.0.0.1:7480", "is not an http:// or https:// URL"},
           {"s3://shop", "ftp://host", "is not an http:// or https:// URL"},
           {"s3://shop", "http://host/path", "no path"},
           {"s3://shop", "http://user:pw@host", "no path, query or user"},
       }) {
    const auto location = parse_s3_location(c.uri, c.endpoint, "us-east-1");
    ASSERT_FALSE(location.ok()) << c.uri << " " << c.endpoint;
    EXPECT_NE(location.message().find(c.says), std::string::npos) << location.message();
  }
  EXPECT_FALSE(parse_s3_location("s3://shop", "", "").ok());
  // A password in the endpoint is never repeated.
  for (const char* endpoint : {"http://user:s3cret@host/x", "http://u:s3c@ret@host",
                               "http://user:s3cret@host:7480?x=@y"}) {
    const auto with_user = parse_s3_location("s3://shop", endpoint, "us-east-1");
    ASSERT_FALSE(with_user.ok()) << endpoint;
    EXPECT_EQ(with_user.message().find("s3c"), std::string::npos) << with_user.message();
    EXPECT_EQ(with_user.message().find("ret"), std::string::npos) << with_user.message();
  }
}

}  // namespace
}  // namespace imgbatch::blob
