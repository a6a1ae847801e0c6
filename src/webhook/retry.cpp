#include "webhook/retry.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

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

core::Result<double> parse_retry_scale(std::string_view base_seconds) {
  const std::string text(base_seconds);
  char* end = nullptr;
  double base = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(base) || base <= 0) {
    return core::make_error(std::string(kRetryBaseEnv) + "=\"" + text +
                            "\" is not a positive number of seconds (for example 0.01)");
  }
  return base / kBaseStepSeconds;
}

double retry_scale_from_env() {
  const char* value = std::getenv(std::string(kRetryBaseEnv).c_str());
  if (value == nullptr) return 1.0;
  auto scale = parse_retry_scale(value);
  if (!scale) throw std::runtime_error(scale.message());
  return *scale;
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
