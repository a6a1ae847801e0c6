// One delivery attempt of a webhook: a blocking POST with libcurl's easy interface, run on
// the dispatcher's own thread. It follows no redirects (a receiver that moved must be
// reconfigured, and following would let a URL bounce the signed body elsewhere), speaks
// only http/https, reads at most a few KB of the answer, and classifies the outcome so the
// caller knows whether to stop, and a 429/503's Retry-After for when to come back.
// `allow_address` is the seam for the SSRF guard: it sees every address before connecting.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imgbatch::webhook {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SendOptions {
  std::chrono::milliseconds timeout{15'000};  // the whole attempt, connect included
  std::size_t max_response_bytes = 4096;      // of the answer's body kept in SendResult
  // Called with each address curl is about to connect to; false refuses it. Empty: allow
  // all. Runs on the sending thread.
  std::function<bool(const sockaddr* address, socklen_t length)> allow_address;
};

enum class SendOutcome {
  delivered,  // 2xx
  stop,       // 410 Gone, or a URL that can never work: give up, do not retry
  retry,      // anything else: network error, timeout, 3xx, 4xx, 5xx
};

std::string_view to_string(SendOutcome o);

struct SendResult {
  SendOutcome outcome = SendOutcome::retry;
  int http_status = 0;  // 0 when no answer came
  std::string error;    // empty when delivered; otherwise says what happened, for logs and status
  std::optional<std::chrono::seconds> retry_after;  // Retry-After (delta or HTTP-date), if sent
  std::string response_body;                        // at most max_response_bytes
};

// POSTs `body` as application/json with `headers` added (typically the three
// webhook-* signature headers). Never throws for network or HTTP failures.
SendResult send_webhook(const std::string& url, std::string_view body, const HeaderList& headers,
                        const SendOptions& options = {});

}  // namespace imgbatch::webhook
