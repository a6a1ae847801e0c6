#include "webhook/receiver_check.hpp"

#include <gtest/gtest.h>

#include "webhook/signature.hpp"

namespace imgbatch::webhook {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kKey = "receiver test key";
const std::string kBody = R"({"request_id":"r1","status":"completed"})";

TEST(ReceiverCheck, AcceptsAFreshAuthenticNotificationOnce) {
  ReceiverCheck check(kKey);
  const auto h = sign_headers(kKey, "msg_1", kNow, kBody);
  EXPECT_EQ(check.check(h.id, h.timestamp, h.signature, kBody, kNow), std::nullopt);
  // The same notification again, signature still valid: a replay.
  const auto replay = check.check(h.id, h.timestamp, h.signature, kBody, kNow + 1);
  ASSERT_TRUE(replay.has_value());
  EXPECT_NE(replay->find("already received"), std::string::npos) << *replay;
  // Another id is new.
  const auto other = sign_headers(kKey, "msg_2", kNow, kBody);
  EXPECT_EQ(check.check(other.id, other.timestamp, other.signature, kBody, kNow), std::nullopt);
}

TEST(ReceiverCheck, RefusalsSayWhy) {
  ReceiverCheck check(kKey);
  const auto h = sign_headers(kKey, "msg_1", kNow, kBody);
  const auto reason = [&](std::string_view id, std::string_view ts, std::string_view sig,
                          std::string_view body, std::int64_t now) {
    return check.check(id, ts, sig, body, now).value_or("accepted");
  };
  EXPECT_NE(reason(h.id, h.timestamp, "v1,AAAA", kBody, kNow).find("no matching signature"),
            std::string::npos);
  EXPECT_NE(reason(h.id, h.timestamp, h.signature, kBody + " ", kNow).find("no matching"),
            std::string::npos);
  EXPECT_NE(reason(h.id, h.timestamp, h.signature, kBody, kNow + 301).find("too old"),
            std::string::npos);
  EXPECT_NE(reason(h.id, h.timestamp, h.signature, kBody, kNow - 301).find("future"),
            std::string::npos);
  EXPECT_NE(reason("", h.timestamp, h.signature, kBody, kNow).find("missing"), std::string::npos);
  // None of the refusals burnt the id: the genuine notification is still accepted.
  EXPECT_EQ(reason(h.id, h.timestamp, h.signature, kBody, kNow), "accepted");
}

TEST(ReceiverCheck, ForgetsTheOldestIdsBeyondCapacity) {
  ReceiverCheck check(kKey, 2);
  for (const char* id : {"a", "b", "c"}) {
    const auto h = sign_headers(kKey, id, kNow, kBody);
    ASSERT_EQ(check.check(h.id, h.timestamp, h.signature, kBody, kNow), std::nullopt) << id;
  }
  const auto c = sign_headers(kKey, "c", kNow, kBody);
  EXPECT_TRUE(check.check(c.id, c.timestamp, c.signature, kBody, kNow).has_value());
  const auto a = sign_headers(kKey, "a", kNow, kBody);
  EXPECT_EQ(check.check(a.id, a.timestamp, a.signature, kBody, kNow), std::nullopt);
}

}  // namespace
}  // namespace imgbatch::webhook
