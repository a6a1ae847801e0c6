#include "webhook/retry.hpp"

#include <array>
#include <cmath>
#include <stdexcept>

#include "sender.hpp"

namespace imgbatch::webhook {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::array<milliseconds, kMaxDeliveryAttempts> kSchedule = {
    milliseconds(0), seconds(5), minutes(5), minutes(30), hours(2), hours(5), hours(10), hours(10)};
constexpr double kBaseStepSeconds = 5.0;

milliseconds scaled(milliseconds d, double scale) {
  return milliseconds(std::llround(static_cast<double>(d.count()) * scale));
}

}  // namespace

std::optional<milliseconds> retry_delay(int attempt, double scale) {
  if (attempt < 1 || attempt > kMaxDeliveryAttempts) return std::nullopt;
  return scaled(kSchedule[static_cast<std::size_t>(attempt - 1)], scale);
}

double retry_scale(double base_seconds) {
  if (!std::isfinite(base_seconds) || base_seconds <= 0)
    throw std::invalid_argument("the webhook retry base must be a positive number of seconds");
  return base_seconds / kBaseStepSeconds;
}

std::optional<milliseconds> next_attempt_delay(int attempts_made, const SendResult& last,
                                               double scale) {
  if (last.outcome != SendOutcome::retry) return std::nullopt;
  auto delay = retry_delay(attempts_made + 1, scale);
  if (!delay) return std::nullopt;
  if ((last.http_status == 429 || last.http_status == 503) && last.retry_after) {
    const milliseconds cap = scaled(kSchedule.back(), scale);
    const milliseconds asked = std::min<milliseconds>(*last.retry_after, cap);
    delay = std::max(*delay, asked);
  }
  return delay;
}

}  // namespace imgbatch::webhook
