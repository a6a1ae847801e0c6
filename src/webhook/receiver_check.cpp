#include "webhook/receiver_check.hpp"

#include "webhook/signature.hpp"

namespace imgbatch::webhook {

ReceiverCheck::ReceiverCheck(std::string key, std::size_t remembered_ids)
    : key_(std::move(key)), capacity_(std::max<std::size_t>(1, remembered_ids)) {}

std::optional<std::string> ReceiverCheck::check(std::string_view id, std::string_view timestamp,
                                                std::string_view signature, std::string_view body,
                                                std::int64_t now_seconds) {
  const auto verdict = verify(key_, {id, timestamp, signature}, body, now_seconds);
  if (verdict != Verification::ok)
    return "webhook signature refused: " + std::string(to_string(verdict));
  std::lock_guard lock(mutex_);
  if (!seen_.insert(std::string(id)).second)
    return "webhook-id " + std::string(id) + " was already received (a replay?)";
  order_.emplace_back(id);
  if (order_.size() > capacity_) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  return std::nullopt;
}

}  // namespace imgbatch::webhook
