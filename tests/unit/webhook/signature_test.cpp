#include "webhook/signature.hpp"

#include <gtest/gtest.h>

#include <string>

#include "webhook/base64.hpp"

namespace imgbatch::webhook {
namespace {

// The example published with the Standard Webhooks specification.
constexpr std::string_view kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kSpecTimestamp = 1614265330;
constexpr std::string_view kSpecBody = R"({"test": 2432232314})";
constexpr std::string_view kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string spec_key() { return parse_secret(kSpecSecret).value(); }

ReceivedHeaders spec_headers(std::string_view signature = kSpecSignature) {
  static const std::string ts = std::to_string(kSpecTimestamp);
  return {kSpecId, ts, signature};
}

TEST(Signature, MatchesTheSpecificationExample) {
  EXPECT_EQ(sign(spec_key(), kSpecId, kSpecTimestamp, kSpecBody), kSpecSignature);
}

TEST(Signature, SignHeadersCarryIdTimestampAndSignature) {
  auto h = sign_headers(spec_key(), kSpecId, kSpecTimestamp, kSpecBody);
  EXPECT_EQ(h.id, kSpecId);
  EXPECT_EQ(h.timestamp, "1614265330");
  EXPECT_EQ(h.signature, kSpecSignature);
}

TEST(Secret, PrefixIsOptionalAndKeyIsDecoded) {
  auto with = parse_secret(kSpecSecret);
  auto without = parse_secret(kSpecSecret.substr(kSecretPrefix.size()));
  ASSERT_TRUE(with.ok());
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(*with, *without);
  EXPECT_EQ(*with, *base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  EXPECT_EQ(with->size(), 24u);
}

TEST(Secret, InvalidBase64OrEmptyKeyIsAnError) {
  for (const char* s : {"whsec_not base64!", "whsec_", "", "whsec_abcde"}) {
    auto key = parse_secret(s);
    ASSERT_FALSE(key.ok()) << s;
    EXPECT_NE(key.message().find("webhook secret"), std::string::npos) << key.message();
  }
}

TEST(Verify, AcceptsTheSpecificationExample) {
  EXPECT_EQ(verify(spec_key(), spec_headers(), kSpecBody, kSpecTimestamp), Verification::ok);
}

TEST(Verify, RefusesAnAlteredBody) {
  EXPECT_EQ(verify(spec_key(), spec_headers(), R"({"test": 2432232315})", kSpecTimestamp),
            Verification::no_matching_signature);
}

TEST(Verify, RefusesAnAlteredIdOrTimestamp) {
  ReceivedHeaders h = spec_headers();
  h.id = "msg_other";
  EXPECT_EQ(verify(spec_key(), h, kSpecBody, kSpecTimestamp), Verification::no_matching_signature);
  h = spec_headers();
  h.timestamp = "1614265331";
  EXPECT_EQ(verify(spec_key(), h, kSpecBody, kSpecTimestamp), Verification::no_matching_signature);
}

TEST(Verify, RefusesTheWrongSecret) {
  auto other = parse_secret("whsec_" + base64_encode(std::string(32, 'k'))).value();
  EXPECT_EQ(verify(other, spec_headers(), kSpecBody, kSpecTimestamp),
            Verification::no_matching_signature);
}

TEST(Verify, TimestampsOutsideTheToleranceAreRefused) {
  const auto key = spec_key();
  EXPECT_EQ(verify(key, spec_headers(), kSpecBody, kSpecTimestamp + 300), Verification::ok);
  EXPECT_EQ(verify(key, spec_headers(), kSpecBody, kSpecTimestamp + 301), Verification::too_old);
  EXPECT_EQ(verify(key, spec_headers(), kSpecBody, kSpecTimestamp - 300), Verification::ok);
  EXPECT_EQ(verify(key, spec_headers(), kSpecBody, kSpecTimestamp - 301), Verification::too_new);
  EXPECT_EQ(verify(key, spec_headers(), kSpecBody, kSpecTimestamp + 3600, 3600), Verification::ok);
}

TEST(Verify, OneGoodSignatureAmongSeveralIsEnough) {
  const std::string bad = "v1," + base64_encode(std::string(32, 'x'));
  const std::string header = bad + " " + std::string(kSpecSignature) + " v1,bm90IGEgc2lnbmF0dXJl";
  EXPECT_EQ(verify(spec_key(), spec_headers(header), kSpecBody, kSpecTimestamp), Verification::ok);
  EXPECT_EQ(verify(spec_key(), spec_headers(bad + " " + bad), kSpecBody, kSpecTimestamp),
            Verification::no_matching_signature);
}

TEST(Verify, OtherVersionsAreIgnored) {
  // The right bytes under another scheme's label must not count.
  const std::string as_v2 = "v2," + std::string(kSpecSignature.substr(3));
  const std::string as_v1a = "v1a," + std::string(kSpecSignature.substr(3));
  EXPECT_EQ(verify(spec_key(), spec_headers(as_v2 + " " + as_v1a), kSpecBody, kSpecTimestamp),
            Verification::no_matching_signature);
  EXPECT_EQ(verify(spec_key(), spec_headers(as_v2 + " " + std::string(kSpecSignature)), kSpecBody,
                   kSpecTimestamp),
            Verification::ok);
}

TEST(Verify, MissingHeadersAndBadTimestampsAreNamed) {
  const auto key = spec_key();
  const std::string ts = std::to_string(kSpecTimestamp);
  EXPECT_EQ(verify(key, {"", ts, kSpecSignature}, kSpecBody, kSpecTimestamp),
            Verification::missing_headers);
  EXPECT_EQ(verify(key, {kSpecId, "", kSpecSignature}, kSpecBody, kSpecTimestamp),
            Verification::missing_headers);
  EXPECT_EQ(verify(key, {kSpecId, ts, ""}, kSpecBody, kSpecTimestamp),
            Verification::missing_headers);
  for (const char* bad :
       {"abc", "-1614265330", "1614265330.5", " 1614265330", "99999999999999999999999"}) {
    EXPECT_EQ(verify(key, {kSpecId, bad, kSpecSignature}, kSpecBody, kSpecTimestamp),
              Verification::bad_timestamp)
        << bad;
  }
  EXPECT_EQ(to_string(Verification::too_old), "webhook-timestamp is too old");
}

TEST(Verify, SignedBySignIsVerified) {
  const std::string key = "any key bytes \x01\x02";
  const std::string body = R"({"request_id":"r","status":"completed"})";
  auto h = sign_headers(key, "msg_1", 1700000000, body);
  EXPECT_EQ(verify(key, {h.id, h.timestamp, h.signature}, body, 1700000010), Verification::ok);
}

}  // namespace
}  // namespace imgbatch::webhook
