#include <gtest/gtest.h>

#include "fetch/retry_after.hpp"

using imgbatch::fetch::parse_retry_after;

namespace {
// Wed, 21 Oct 2015 07:28:00 GMT
constexpr std::time_t kDate = 1445412480;
}  // namespace

TEST(RetryAfter, ReadsDelaySeconds) {
  EXPECT_EQ(parse_retry_after("120", kDate), 120);
  EXPECT_EQ(parse_retry_after("0", kDate), 0);
  EXPECT_EQ(parse_retry_after("  7 \r\n", kDate), 7);
}

TEST(RetryAfter, ReadsHttpDatesInEveryFormRelativeToNow) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", kDate - 60), 60);
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", kDate - 90), 90);
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:00 2015", kDate - 5), 5);
}

TEST(RetryAfter, ADateInThePastMeansNow) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", kDate + 3600), 0);
}

TEST(RetryAfter, RejectsWhatIsNeitherSecondsNorADate) {
  EXPECT_EQ(parse_retry_after("", kDate), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", kDate), std::nullopt);
  EXPECT_EQ(parse_retry_after("12abc", kDate), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.5", kDate), std::nullopt);
  EXPECT_EQ(parse_retry_after("99999999999999999999999", kDate), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon", kDate), std::nullopt);
}
