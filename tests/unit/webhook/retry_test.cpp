#include "webhook/retry.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "webhook/sender.hpp"

namespace imgbatch::webhook {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(RetrySchedule, FollowsTheSvixSteps) {
  EXPECT_EQ(retry_delay(1), 0ms);
  EXPECT_EQ(retry_delay(2), 5s);
  EXPECT_EQ(retry_delay(3), 5min);
  EXPECT_EQ(retry_delay(4), 30min);
  EXPECT_EQ(retry_delay(5), 2h);
  EXPECT_EQ(retry_delay(6), 5h);
  EXPECT_EQ(retry_delay(7), 10h);
  EXPECT_EQ(retry_delay(8), 10h);
  EXPECT_EQ(retry_delay(9), std::nullopt);
  EXPECT_EQ(retry_delay(0), std::nullopt);
}

TEST(RetrySchedule, ScaleMakesTheFiveSecondStepTheBase) {
  const double scale = retry_scale(0.01);
  EXPECT_DOUBLE_EQ(scale, 0.002);
  EXPECT_EQ(retry_delay(1, scale), 0ms);
  EXPECT_EQ(retry_delay(2, scale), 10ms);
  EXPECT_EQ(retry_delay(3, scale), 600ms);
  EXPECT_EQ(retry_delay(4, scale), 3600ms);
  EXPECT_EQ(retry_delay(8, scale), 72000ms);
  EXPECT_EQ(retry_delay(9, scale), std::nullopt);
}

TEST(RetrySchedule, BadBaseValuesAreErrors) {
  for (const double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()})
    EXPECT_THROW(retry_scale(bad), std::invalid_argument) << bad;
  EXPECT_DOUBLE_EQ(retry_scale(5), 1.0);
}

SendResult answered(int status, SendOutcome outcome,
                    std::optional<std::chrono::seconds> retry_after = {}) {
  SendResult r;
  r.http_status = status;
  r.outcome = outcome;
  r.retry_after = retry_after;
  return r;
}

TEST(NextAttempt, StopsWhenDeliveredGoneOrOutOfAttempts) {
  EXPECT_EQ(next_attempt_delay(1, answered(200, SendOutcome::delivered)), std::nullopt);
  EXPECT_EQ(next_attempt_delay(1, answered(410, SendOutcome::stop)), std::nullopt);
  EXPECT_EQ(next_attempt_delay(8, answered(500, SendOutcome::retry)), std::nullopt);
}

TEST(NextAttempt, FollowsTheScheduleAfterEachAttempt) {
  EXPECT_EQ(next_attempt_delay(1, answered(500, SendOutcome::retry)), 5s);
  EXPECT_EQ(next_attempt_delay(2, answered(0, SendOutcome::retry)), 5min);
  EXPECT_EQ(next_attempt_delay(7, answered(500, SendOutcome::retry)), 10h);
  EXPECT_EQ(next_attempt_delay(1, answered(500, SendOutcome::retry), 0.002), 10ms);
}

TEST(NextAttempt, RetryAfterOn429And503LengthensButNeverShortens) {
  EXPECT_EQ(next_attempt_delay(1, answered(503, SendOutcome::retry, 600s)), 600s);
  EXPECT_EQ(next_attempt_delay(1, answered(429, SendOutcome::retry, 60s)), 60s);
  EXPECT_EQ(next_attempt_delay(3, answered(503, SendOutcome::retry, 1s)), 30min);
  EXPECT_EQ(next_attempt_delay(1, answered(503, SendOutcome::retry, 1000h)), 10h);
  EXPECT_EQ(next_attempt_delay(1, answered(500, SendOutcome::retry, 600s)), 5s);
  EXPECT_EQ(next_attempt_delay(1, answered(503, SendOutcome::retry, 600s), 0.002), 72000ms);
}

}  // namespace
}  // namespace imgbatch::webhook
