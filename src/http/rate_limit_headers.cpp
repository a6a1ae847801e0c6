#include "rate_limit_headers.hpp"

#include <algorithm>

namespace imgbatch::http {

namespace {

constexpr std::string_view kImagesPolicy = "\"images-per-day\"";
constexpr std::string_view kUploadsPolicy = "\"uploads-per-minute\"";

// Milliseconds rounded up to whole seconds: a client that waits t seconds is never early.
long long seconds(core::TimeMs ms) { return (std::max<core::TimeMs>(ms, 0) + 999) / 1000; }

void append_member(std::string& list, std::string member) {
  if (!list.empty()) list += ", ";
  list += member;
}

}  // namespace

std::string rate_limit_policy_field(const core::QuotaState& state) {
  std::string field;
  if (state.images_per_day)
    append_member(field, std::string(kImagesPolicy) +
                             ";q=" + std::to_string(*state.images_per_day) + ";w=86400");
  if (state.uploads_per_minute)
    append_member(field, std::string(kUploadsPolicy) +
                             ";q=" + std::to_string(*state.uploads_per_minute) + ";w=60");
  return field;
}

std::string rate_limit_field(const core::QuotaState& state) {
  std::string field;
  if (state.images_per_day)
    append_member(field, std::string(kImagesPolicy) + ";r=" + std::to_string(state.images_left) +
                             ";t=" + std::to_string(seconds(state.day_ends_in)));
  if (state.uploads_per_minute) {
    const core::TimeMs t = state.uploads_left > 0 ? state.bucket_full_in : state.next_upload_in;
    append_member(field, std::string(kUploadsPolicy) + ";r=" + std::to_string(state.uploads_left) +
                             ";t=" + std::to_string(seconds(t)));
  }
  return field;
}

void add_rate_limit_headers(Reply& reply, const core::QuotaState& state) {
  if (!state.images_per_day && !state.uploads_per_minute) return;
  reply.header("RateLimit-Policy", rate_limit_policy_field(state));
  reply.header("RateLimit", rate_limit_field(state));
}

long long retry_after_seconds(const core::QuotaState& state) {
  core::TimeMs wait = 0;
  if (state.images_exceeded) wait = std::max(wait, state.day_ends_in);
  if (state.uploads_exceeded) wait = std::max(wait, state.next_upload_in);
  return std::max(1LL, seconds(wait));
}

}  // namespace imgbatch::http
