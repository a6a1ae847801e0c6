// When to try a webhook delivery again. The schedule is Svix's: attempt 1 at once, then
// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the attempt before; after the 8th
// attempt the delivery is given up. Every step is multiplied by a scale (1 in production)
// so tests can run the whole schedule in seconds: IMGBATCH_WEBHOOK_RETRY_BASE=b makes the
// 5 s step last b seconds and every other step likewise (scale = b / 5).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::webhook {

struct SendResult;

inline constexpr int kMaxDeliveryAttempts = 8;
inline constexpr std::string_view kRetryBaseEnv = "IMGBATCH_WEBHOOK_RETRY_BASE";

// The wait before attempt `attempt` (1-based), scaled; nullopt past the last attempt.
std::optional<std::chrono::milliseconds> retry_delay(int attempt, double scale = 1.0);

// "0.01" (seconds the 5 s step should take) to a scale (0.002). Positive and finite.
core::Result<double> parse_retry_scale(std::string_view base_seconds);

// The scale from IMGBATCH_WEBHOOK_RETRY_BASE, 1.0 when unset. Read once, at start-up;
// throws std::runtime_error naming the variable when its value is not a positive number.
double retry_scale_from_env();

// What to do after `attempts_made` attempts, the last of which ended with `last`: nullopt
// to stop (delivered, 410 Gone, a URL that can never work, or no attempt left), else the
// wait before the next attempt. A Retry-After on a 429 or 503 lengthens the wait (never
// shortens it), up to the longest step of the scaled schedule.
std::optional<std::chrono::milliseconds> next_attempt_delay(int attempts_made, const SendResult& last,
                                                            double scale = 1.0);

}  // namespace imgbatch::webhook
