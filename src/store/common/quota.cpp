#include "common/quota.hpp"

#include <algorithm>
#include <cmath>

namespace imgbatch::store::common {

namespace {

constexpr double kMicros = 1e6;

// Milliseconds until a bucket refilled at `per_minute` tokens a minute gains `missing`.
core::TimeMs refill_time(double missing, std::int64_t per_minute) {
  if (missing <= 0) return 0;
  return static_cast<core::TimeMs>(
      std::ceil(missing * static_cast<double>(kMinuteMs) / static_cast<double>(per_minute)));
}

}  // namespace

KeyUsage fresh_usage(const core::UploadQuota& quota, core::TimeMs now) {
  return {now - now % kDayMs, 0, quota.uploads_per_minute.value_or(0) * 1'000'000, now};
}

QuotaCharge charge_upload(const KeyUsage& before, const core::UploadQuota& quota,
                          std::int64_t images, core::TimeMs now) {
  QuotaCharge charge;
  charge.after = before;
  core::QuotaState& state = charge.state;
  state.images_per_day = quota.images_per_day;
  state.uploads_per_minute = quota.uploads_per_minute;

  // Today's images: a new UTC day starts from zero.
  const core::TimeMs today = now - now % kDayMs;
  if (before.day_start != today) {
    charge.after.day_start = today;
    charge.after.images_today = 0;
  }
  state.day_ends_in = today + kDayMs - now;
  if (quota.images_per_day) {
    const std::int64_t left =
        std::max<std::int64_t>(0, *quota.images_per_day - charge.after.images_today);
    state.images_exceeded = images > left;
    state.images_left = left;
  }

  // The bucket, refilled for the time since it was last written (a clock that went back
  // refills nothing).
  double tokens = static_cast<double>(before.token_micros) / kMicros;
  if (quota.uploads_per_minute) {
    const auto capacity = static_cast<double>(*quota.uploads_per_minute);
    const core::TimeMs elapsed = std::max<core::TimeMs>(0, now - before.refilled_at);
    tokens = std::min(capacity, tokens + static_cast<double>(elapsed) * capacity /
                                             static_cast<double>(kMinuteMs));
    state.uploads_exceeded = tokens < 1;
  }

  charge.allowed = !state.images_exceeded && !state.uploads_exceeded;
  if (charge.allowed) {
    charge.after.images_today += images;
    if (quota.images_per_day) state.images_left -= images;
    if (quota.uploads_per_minute) tokens -= 1;
  }
  charge.after.token_micros = std::llround(tokens * kMicros);
  charge.after.refilled_at = std::max(now, before.refilled_at);
  if (quota.uploads_per_minute) {
    state.uploads_left = static_cast<std::int64_t>(std::floor(tokens));
    state.next_upload_in = refill_time(1 - tokens, *quota.uploads_per_minute);
    state.bucket_full_in = refill_time(static_cast<double>(*quota.uploads_per_minute) - tokens,
                                       *quota.uploads_per_minute);
  }
  return charge;
}

}  // namespace imgbatch::store::common
