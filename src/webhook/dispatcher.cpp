#include "webhook/dispatcher.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/ids.hpp"
#include "core/status_document.hpp"
#include "fetch/address_guard.hpp"
#include "logging/logging.hpp"
#include "metrics/service_metrics.hpp"
#include "sender.hpp"
#include "webhook/retry.hpp"
#include "webhook/signature.hpp"

namespace imgbatch::webhook {

namespace {

// Long enough for one attempt (the send timeout) with room to record it. A dispatcher
// killed mid-attempt holds its delivery this long; then another one sends it again.
constexpr core::TimeMs kDeliveryLeaseMs = 60'000;
constexpr int kProductsPage = 1000;

}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, store::Store& store)
    : options_(std::move(options)), store_(store) {
  if (options_.secret && !options_.secret->empty()) {
    auto key = parse_secret(*options_.secret);
    if (!key) throw std::invalid_argument(key.message());
    key_ = std::move(key.value());
  }
  options_.senders = std::max(1, options_.senders);
  if (!options_.image_links)
    options_.image_links = std::make_shared<core::ProxyImageLinks>(options_.public_url);
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  {
    // Deliveries left by an earlier run (a crash, a restart) are looked at right away.
    std::lock_guard lock(mutex_);
    wake_ = true;
    stopping_ = false;
  }
  for (int i = 0; i < options_.senders; ++i) threads_.emplace_back([this] { loop(); });
}

void Dispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

core::TimeMs Dispatcher::lease_ms() const {
  return std::max<core::TimeMs>(kDeliveryLeaseMs, 2 * options_.timeout.count());
}

void Dispatcher::note_due(core::TimeMs at) {
  std::lock_guard lock(mutex_);
  if (next_due_ == 0 || at < next_due_) next_due_ = at;
}

void Dispatcher::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      auto deadline = std::chrono::steady_clock::now() + options_.idle_poll;
      if (next_due_ != 0) {
        // +1 ms: the store compares with its own clock reading, which must not be early.
        const auto until = std::chrono::milliseconds(next_due_ - core::now_ms() + 1);
        deadline = std::min(deadline, std::chrono::steady_clock::now() + until);
      }
      cv_.wait_until(lock, deadline, [this] { return wake_ || stopping_; });
      if (stopping_) return;
      wake_ = false;
      if (next_due_ != 0 && next_due_ <= core::now_ms()) next_due_ = 0;
    }
    try {
      // One at a time per sender, so a slow receiver holds one sender, not a batch.
      for (;;) {
        auto due = store_.claim_deliveries(core::now_ms(), 1, lease_ms());
        if (due.empty()) break;
        deliver(due.front());
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
    } catch (const std::exception& e) {
      spdlog::error("webhook dispatcher: {}; retrying", e.what());
    }
  }
}

// The final status document, all products included: a receiver should not need to call
// back to learn the outcome.
std::string Dispatcher::payload(const std::string& request_id) {
  const auto request = store_.get_request(request_id);
  if (!request) return "{}";
  std::vector<core::ProductRecord> products;
  for (int offset = 0; offset < request->products_total; offset += kProductsPage) {
    auto page = store_.get_products(request_id, offset, kProductsPage);
    if (page.empty()) break;
    std::move(page.begin(), page.end(), std::back_inserter(products));
  }
  return core::status_document(*request, products, options_.public_url, *options_.image_links)
      .dump();
}

void Dispatcher::deliver(const core::Delivery& delivery) {
  // Every line logged meanwhile, the address filter's included, names the request.
  log::RequestScope scope(delivery.request_id);
  const std::string body = payload(delivery.request_id);
  HeaderList headers;
  const auto timestamp = core::now_ms() / 1000;
  if (key_) {
    auto signed_headers = sign_headers(*key_, delivery.webhook_id, timestamp, body);
    headers.emplace_back(SignatureHeaders::kId, std::move(signed_headers.id));
    headers.emplace_back(SignatureHeaders::kTimestamp, std::move(signed_headers.timestamp));
    headers.emplace_back(SignatureHeaders::kSignature, std::move(signed_headers.signature));
  } else {
    headers.emplace_back(SignatureHeaders::kId, delivery.webhook_id);
    headers.emplace_back(SignatureHeaders::kTimestamp, std::to_string(timestamp));
  }

  SendOptions send_options;
  send_options.timeout = options_.timeout;
  if (!options_.allow_private_networks) {
    send_options.allow_address = [url = delivery.url](const sockaddr* address, socklen_t) {
      if (auto reason = fetch::blocked_reason(address)) {
        spdlog::warn("webhook to {} refused: {}", url, *reason);
        return false;
      }
      return true;
    };
  }
  const SendResult result = send_webhook(delivery.url, body, headers, send_options);

  const int attempts_made = delivery.attempts + 1;
  core::DeliveryAttempt attempt;
  attempt.delivery_id = delivery.id;
  attempt.delivered = result.outcome == SendOutcome::delivered;
  if (result.http_status != 0) attempt.http_status = result.http_status;
  if (!result.error.empty()) attempt.error = result.error;
  if (!attempt.delivered) {
    if (auto delay = next_attempt_delay(attempts_made, result, options_.retry_scale))
      attempt.next_attempt_at = core::now_ms() + delay->count();
  }
  store_.record_delivery_attempt(attempt, core::now_ms());
  if (attempt.next_attempt_at) note_due(*attempt.next_attempt_at);

  const auto outcome = attempt.delivered         ? metrics::WebhookOutcome::delivered
                       : attempt.next_attempt_at ? metrics::WebhookOutcome::retrying
                                                 : metrics::WebhookOutcome::gave_up;
  if (options_.metrics) options_.metrics->webhook_deliveries(outcome).inc();

  // The webhook-id is in every line: it is what a receiver's logs show too.
  if (attempt.delivered)
    spdlog::info("webhook {} delivered to {} (attempt {})", delivery.webhook_id, delivery.url,
                 attempts_made);
  else if (attempt.next_attempt_at)
    spdlog::warn("webhook {} to {} failed (attempt {}): {}; next try in {} ms", delivery.webhook_id,
                 delivery.url, attempts_made, result.error,
                 std::max<core::TimeMs>(0, *attempt.next_attempt_at - core::now_ms()));
  else
    spdlog::error("webhook {} to {} given up after attempt {}: {}", delivery.webhook_id,
                  delivery.url, attempts_made, result.error);
}

}  // namespace imgbatch::webhook
