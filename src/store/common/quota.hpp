// Charging an upload to its key's limits (docs/API.md, "Quotas and rate limits"), the same
// arithmetic on both backends. Each backend keeps one api_key_usage row per key, reads it
// locked in the transaction that stores the request (SQLite: its write lock; PostgreSQL:
// SELECT … FOR UPDATE), and writes back `after` only when the upload is allowed, so that
// concurrent uploads on any number of nodes are charged one after the other.
#pragma once

#include <cstdint>

#include "core/types.hpp"

namespace imgbatch::store::common {

inline constexpr core::TimeMs kDayMs = 86'400'000;
inline constexpr core::TimeMs kMinuteMs = 60'000;

// A key's api_key_usage row.
struct KeyUsage {
  core::TimeMs day_start = 0;  // start (UTC) of the day images_today counts
  std::int64_t images_today = 0;
  // The per-minute bucket's level when refilled_at was written, in millionths of a token
  // (integers: both databases store them exactly).
  std::int64_t token_micros = 0;
  core::TimeMs refilled_at = 0;
};

// The row of a key never charged: a full bucket.
KeyUsage fresh_usage(const core::UploadQuota& quota, core::TimeMs now);

struct QuotaCharge {
  bool allowed = false;
  KeyUsage after;  // what to store when allowed
  core::QuotaState state;
};

// Charges one upload of `images` images at `now`: one token of the bucket (capacity
// uploads_per_minute, refilled continuously at that many per minute) and `images` of
// today's images. Refused, it charges nothing and says which limit it would pass.
QuotaCharge charge_upload(const KeyUsage& before, const core::UploadQuota& quota,
                          std::int64_t images, core::TimeMs now);

}  // namespace imgbatch::store::common
