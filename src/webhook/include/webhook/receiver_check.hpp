// What POST /webhook checks when a secret is configured: a valid Standard Webhooks
// signature, a timestamp within five minutes of now, and a webhook-id not seen before
// (a replayed notification is refused even with a valid signature). Ids are remembered
// for longer than the timestamp tolerance, so a replay cannot wait them out.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace imgbatch::webhook {

class ReceiverCheck {
 public:
  // `key`: the decoded secret (parse_secret).
  explicit ReceiverCheck(std::string key, std::size_t remembered_ids = 100'000);

  // nullopt when the notification is authentic and new; otherwise why it is refused.
  // Thread-safe.
  std::optional<std::string> check(std::string_view id, std::string_view timestamp,
                                   std::string_view signature, std::string_view body,
                                   std::int64_t now_seconds);

 private:
  std::string key_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_set<std::string> seen_;
  std::deque<std::string> order_;  // oldest first, to forget beyond capacity
};

}  // namespace imgbatch::webhook
