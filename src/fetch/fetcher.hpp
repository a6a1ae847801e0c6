// Fetcher: downloads image bytes. Many downloads overlap; each ends in exactly one call of
// its completion callback, made on the fetcher's own thread (keep it short: hand the
// bytes on to another thread).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace imgbatch::fetch {

struct FetchLimits {
  long max_redirects = 5;
  long timeout_ms = 30'000;
  long long max_bytes = 32LL * 1024 * 1024;
  bool allow_private_networks = false;
};

struct FetchResult {
  bool ok = false;
  std::string body;          // the image bytes when ok
  long http_status = 0;      // 0 when no response arrived
  std::string error;         // for a user: "download failed: HTTP 404", "download timed out after 30 s", …
  bool transient = false;    // worth retrying (connection error, timeout, 408, 429, 5xx, cut short)
  std::optional<long> retry_after_seconds;  // from a Retry-After header
  double seconds = 0;        // wall time of the transfer
};

using FetchCallback = std::function<void(FetchResult&&)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // Queues a download; at most `concurrency` (given at construction) run at once.
  virtual void fetch(std::string url, FetchCallback on_done) = 0;
  // Downloads queued or running.
  virtual std::size_t in_flight() const = 0;
  // Stops the fetch thread; pending downloads end with an error "shutting down".
  virtual void stop() = 0;
};

// libcurl multi on one thread.
std::unique_ptr<Fetcher> make_curl_fetcher(FetchLimits limits, int concurrency);

}  // namespace imgbatch::fetch
