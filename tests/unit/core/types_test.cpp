#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/ids.hpp"
#include "core/types.hpp"

using namespace imgbatch::core;

TEST(Time, FormatsUtcIso8601WithSecondsPrecision) {
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(1'795'946'400'999), "2026-11-29T10:00:00Z");
}

TEST(Enums, RoundTripThroughTheirNames) {
  for (auto s : {RequestStatus::pending, RequestStatus::processing, RequestStatus::completed,
                 RequestStatus::failed})
    EXPECT_EQ(parse_request_status(to_string(s)), s);
  for (auto s : {TaskState::pending, TaskState::running, TaskState::done, TaskState::failed})
    EXPECT_EQ(parse_task_state(to_string(s)), s);
  EXPECT_EQ(parse_image_format("jpg"), ImageFormat::jpeg);
  EXPECT_EQ(parse_image_format("webp"), ImageFormat::webp);
  EXPECT_FALSE(parse_image_format("gif").has_value());
  EXPECT_FALSE(parse_request_status("done").has_value());
}

TEST(Ids, NewUuidsAreCanonicalAndDistinct) {
  const auto a = new_uuid();
  const auto b = new_uuid();
  EXPECT_TRUE(is_uuid(a)) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');  // version 4
}

TEST(Ids, RejectsMalformedIds) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("123e4567-e89b-12d3-a456-42661417400"));
  EXPECT_FALSE(is_uuid("123e4567-e89b-12d3-a456-4266141740000"));
  EXPECT_FALSE(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_FALSE(is_uuid("../../etc/passwd-aaaaaaaaaaaaaaaaaaaaaaa"));
  EXPECT_TRUE(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
}

TEST(Config, PublicUrlDefaultsToListenAddressWithoutTrailingSlash) {
  Config config;
  config.listen = "127.0.0.1:9000";
  EXPECT_EQ(config.effective_public_url(), "http://127.0.0.1:9000");
  config.public_url = "https://img.example.com/";
  EXPECT_EQ(config.effective_public_url(), "https://img.example.com");
}
