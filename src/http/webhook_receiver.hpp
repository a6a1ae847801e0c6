// The POST /webhook receiver of the original system, kept for clients that point their
// notifications back at imgbatch (and for end-to-end tests of our own sender). It keeps
// the last kMaxEvents notifications in memory for GET /webhook/events.
//
// Signature checking is a seam: a WebhookVerifier sees the headers and the raw body and
// returns an error message to refuse the notification with 401; without one, every
// notification with a JSON body is accepted.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "http/webhook_verifier.hpp"
#include "reply.hpp"

namespace imgbatch::http {

class WebhookReceiver {
 public:
  static constexpr std::size_t kMaxEvents = 100;

  // Without a verifier, every notification with a JSON body is taken.
  explicit WebhookReceiver(WebhookVerifier verifier = {}) : verifier_(std::move(verifier)) {}

  Reply receive(const HeaderLookup& header, std::string_view body);
  // {"events": [...]}, newest first.
  nlohmann::json events() const;

 private:
  const WebhookVerifier verifier_;  // set once: requests read it without a lock
  mutable std::mutex mutex_;
  std::deque<nlohmann::json> events_;  // newest at the front
};

}  // namespace imgbatch::http
