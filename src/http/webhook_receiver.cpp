#include "webhook_receiver.hpp"

#include "core/types.hpp"
#include "problem.hpp"

namespace imgbatch::http {

Reply WebhookReceiver::receive(const HeaderLookup& header, std::string_view body) {
  if (verifier_) {
    if (auto refused = verifier_(header, body)) return problem(401, std::move(*refused));
  }
  auto payload = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return problem(400, "the webhook body must be a JSON document");

  nlohmann::json event = {{"id", nullptr},
                          {"received_at", core::format_iso8601(core::now_ms())},
                          {"body", std::move(payload)}};
  if (auto id = header("webhook-id")) event["id"] = std::move(*id);
  {
    std::lock_guard lock(mutex_);
    events_.push_front(std::move(event));
    if (events_.size() > kMaxEvents) events_.pop_back();
  }
  return json_reply(200, {{"message", "Webhook received successfully."}});
}

nlohmann::json WebhookReceiver::events() const {
  nlohmann::json list = nlohmann::json::array();
  std::lock_guard lock(mutex_);
  for (const auto& event : events_) list.push_back(event);
  return {{"events", std::move(list)}};
}

}  // namespace imgbatch::http
