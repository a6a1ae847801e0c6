// The RateLimit and RateLimit-Policy header fields of the IETF httpapi draft
// (draft-ietf-httpapi-ratelimit-headers-10, Structured Field Lists) for a key's limits,
// and the Retry-After of an upload refused by one (docs/API.md, "Quotas and rate limits").
//
//   RateLimit-Policy: "images-per-day";q=1000;w=86400, "uploads-per-minute";q=10;w=60
//   RateLimit: "images-per-day";r=990;t=3600, "uploads-per-minute";r=9;t=6
//
// Only the limits the key has are listed. r is what is left (images of today's UTC day;
// whole uploads in the bucket); t is the seconds until the day's window ends, or until the
// bucket is full again (with r=0: until the next upload is allowed).
#pragma once

#include <string>

#include "core/types.hpp"
#include "reply.hpp"

namespace imgbatch::http {

std::string rate_limit_policy_field(const core::QuotaState& state);
std::string rate_limit_field(const core::QuotaState& state);

// Adds both fields (nothing when the key has no limit).
void add_rate_limit_headers(Reply& reply, const core::QuotaState& state);

// Whole seconds (at least 1) until the limits that refused an upload allow one again.
long long retry_after_seconds(const core::QuotaState& state);

}  // namespace imgbatch::http
