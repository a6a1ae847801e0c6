// What create_request does the same on every backend before and around its SQL: the
// values it stores (encoded once, before any lock is taken), the idempotency window and
// the answer to a key seen before, and the ids of the webhook deliveries it queues.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::store::common {

// An idempotency key counts for this long after the request that used it.
inline constexpr core::TimeMs kIdempotencyWindowMs = 24LL * 60 * 60 * 1000;

// A request as it goes into the tables.
struct PreparedRequest {
  explicit PreparedRequest(const core::NewRequest& request);

  const core::NewRequest& request;
  std::string columns;              // JSON array
  std::vector<std::string> fields;  // per product, JSON array
  std::int64_t total = 0;           // images
  // Nothing to wait for: such a request is over as soon as it exists.
  bool ended = false;

  std::int64_t products() const { return static_cast<std::int64_t>(request.products.size()); }
  // The status it is stored with.
  std::string_view status() const;
  // Keys older than this (created_at) no longer count.
  core::TimeMs idempotency_cutoff() const { return request.created_at - kIdempotencyWindowMs; }
  // The request ended on arrival and wants to hear about it: queue its delivery.
  bool delivers_at_once() const { return ended && request.webhook_url.has_value(); }
};

// The answer to an idempotency key that an earlier request (`earlier_id`) used within the
// window: the same upload is replayed, another one is a conflict.
core::CreateOutcome earlier_use(const std::string& earlier_id, bool same_fingerprint);

// "msg_" + uuid: a delivery's id, the same on every attempt.
std::string new_webhook_id();

// The state a task ends in with this outcome ("done" or "failed"; nullopt for a retry).
std::optional<std::string_view> end_state(const core::TaskOutcome& outcome);

}  // namespace imgbatch::store::common
