// The query-string presigner against the AWS documentation's published example
// ("Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"), and the
// hashes a PUT carries against known values.
#include "sigv4.hpp"
#include "core/sha256.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace imgbatch::blob {
namespace {

// 2013-05-24T00:00:00Z
constexpr std::chrono::system_clock::time_point kExampleTime{std::chrono::seconds(1369353600)};

const S3Credentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE",
                                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

TEST(Presign, MatchesTheAwsDocumentationExample) {
  const PresignRequest request{"examplebucket.s3.amazonaws.com", "/test.txt", "us-east-1",
                               kExampleTime, std::chrono::seconds(86400)};
  EXPECT_EQ(presign_get_query(request, kExampleCredentials),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// Every input is part of the signature: a change to any gives another one.
TEST(Presign, EveryPartIsSigned) {
  const PresignRequest base{"examplebucket.s3.amazonaws.com", "/test.txt", "us-east-1",
                            kExampleTime, std::chrono::seconds(86400)};
  auto signature = [](const PresignRequest& r, const S3Credentials& c) {
    const auto query = presign_get_query(r, c);
    return query.substr(query.find("X-Amz-Signature="));
  };
  const auto reference = signature(base, kExampleCredentials);
  auto other = base;
  other.path = "/test2.txt";
  EXPECT_NE(signature(other, kExampleCredentials), reference);
  other = base;
  other.host = "127.0.0.1:7480";
  EXPECT_NE(signature(other, kExampleCredentials), reference);
  other = base;
  other.expires = std::chrono::seconds(3600);
  EXPECT_NE(signature(other, kExampleCredentials), reference);
  other = base;
  other.region = "eu-central-1";
  EXPECT_NE(signature(other, kExampleCredentials), reference);
  auto credentials = kExampleCredentials;
  credentials.secret_access_key += "x";
  EXPECT_NE(signature(base, credentials), reference);
}

// Temporary credentials travel as X-Amz-Security-Token, in its sorted place and signed;
// the validity is kept within SigV4's 7 days.
TEST(Presign, SessionTokenAndExpiryLimits) {
  auto credentials = kExampleCredentials;
  credentials.session_token = "token/with+chars=";
  PresignRequest request{"h", "/b/k", "us-east-1", kExampleTime, std::chrono::hours(24 * 30)};
  const auto query = presign_get_query(request, credentials);
  EXPECT_NE(query.find("&X-Amz-Expires=604800&X-Amz-Security-Token=token%2Fwith%2Bchars%3D"
                       "&X-Amz-SignedHeaders=host&X-Amz-Signature="),
            std::string::npos)
      << query;
}

TEST(PayloadHashes, AreTheKnownDigests) {
  EXPECT_EQ(core::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(core::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(md5_base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(md5_base64("abc"), "kAFQmDzST7DWlj99KOF/cg==");
}

}  // namespace
}  // namespace imgbatch::blob
