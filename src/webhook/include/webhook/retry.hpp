// When to try a webhook delivery again. The schedule is Svix's: attempt 1 at once, then
// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the attempt before; after the 8th
// attempt the delivery is given up. Every step is multiplied by a scale (1 in production)
// so tests can run the whole schedule in seconds: --webhook-retry-base b
// (IMGBATCH_WEBHOOK_RETRY_BASE) makes the 5 s step last b seconds and every other step
// likewise (scale = b / 5).
#pragma once

#include <chrono>
#include <optional>

namespace imgbatch::webhook {

struct SendResult;

inline constexpr int kMaxDeliveryAttempts = 8;

// The wait before attempt `attempt` (1-based), scaled; nullopt past the last attempt.
std::optional<std::chrono::milliseconds> retry_delay(int attempt, double scale = 1.0);

// The scale that makes the 5 s step last `base_seconds` (0.01 gives 0.002). Throws
// std::invalid_argument unless it is positive and finite (the command line checks first).
double retry_scale(double base_seconds);

// What to do after `attempts_made` attempts, the last of which ended with `last`: nullopt
// to stop (delivered, 410 Gone, a URL that can never work, or no attempt left), else the
// wait before the next attempt. A Retry-After on a 429 or 503 lengthens the wait (never
// shortens it), up to the longest step of the scaled schedule.
std::optional<std::chrono::milliseconds> next_attempt_delay(int attempts_made,
                                                            const SendResult& last,
                                                            double scale = 1.0);

}  // namespace imgbatch::webhook
