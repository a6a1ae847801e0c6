// Fetcher: downloads image bytes. Many downloads overlap; each ends in exactly one call of
// its completion callback, made on the fetcher's own thread (keep it short: hand the
// bytes on to another thread). The curl implementation drives a libcurl multi handle on
// one thread, reuses connections, enforces time and size limits, and refuses to connect
// to loopback/private/link-local addresses unless allowed (see address_guard.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/failure.hpp"

struct sockaddr;  // <sys/socket.h>

namespace imgbatch::fetch {

struct FetchLimits {
  long max_redirects = 5;
  long timeout_ms = 30'000;  // the whole transfer, redirects included
  long long max_bytes = 32LL * 1024 * 1024;
  bool allow_private_networks = false;
  // A transfer slower than this for this long is cut off, so a host trickling one byte a
  // second cannot hold a download slot until the timeout. The window is shortened to a
  // third of the timeout when the timeout is short; curl counts it in whole seconds.
  long low_speed_bytes_per_second = 1024;
  long low_speed_window_seconds = 10;
};

// What the server said of the bytes it sent last time, asked about again (a conditional
// GET): If-None-Match with the ETag, If-Modified-Since with the Last-Modified date.
struct Validators {
  std::optional<std::string> etag;
  std::optional<std::string> last_modified;
  bool empty() const { return !etag && !last_modified; }
};

struct FetchResult {
  std::string body;      // the image bytes when ok; empty otherwise
  long http_status = 0;  // of the last response; 0 when no response arrived
  // Why the download failed; none when it succeeded. The kind says what happened
  // (core::Failure::Kind::http_unavailable for a 503, timed_out, …); whether that is worth
  // a retry is the caller's decision. The message is for a user: "download failed: HTTP
  // 404", "download timed out after 30 s", …
  std::optional<core::Failure> failure;
  std::optional<long> retry_after_seconds;  // from a Retry-After header
  double seconds = 0;                       // wall time of the transfer
  // A conditional download answered 304 Not Modified: ok, with no body.
  bool not_modified = false;
  // The validators of the last response (ETag as sent, quotes included), to ask with next
  // time; none when the server sent none.
  Validators validators;

  bool ok() const { return !failure.has_value(); }
  // The failure's message, empty when ok.
  std::string_view error() const { return failure ? std::string_view(failure->message) : ""; }
};

using FetchCallback = std::function<void(FetchResult&&)>;
// Asked on the fetcher's thread just before a queued download starts (keep it quick): false
// means the download is no longer wanted (its request was cancelled); it does not start and
// ends with the failure "not started: no longer wanted" (Kind::shutting_down).
using StillWanted = std::function<bool()>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // Queues a download; at most `concurrency` (given at construction) run at once.
  // Thread-safe. After stop() the callback is called at once, on the caller's thread,
  // with the failure "shutting down" (Kind::shutting_down).
  void fetch(std::string url, FetchCallback on_done) {
    fetch(std::move(url), std::move(on_done), StillWanted(), Validators{});
  }
  // The same, asking `still_wanted` (when set) before the download starts.
  void fetch(std::string url, FetchCallback on_done, StillWanted still_wanted) {
    fetch(std::move(url), std::move(on_done), std::move(still_wanted), Validators{});
  }
  // The same, as a conditional download when `validators` are given: a 304 answer is a
  // success with not_modified set and no body.
  virtual void fetch(std::string url, FetchCallback on_done, StillWanted still_wanted,
                     Validators validators) = 0;
  // Downloads queued or running.
  virtual std::size_t in_flight() const = 0;
  // Stops the fetch thread; pending downloads end with the failure "shutting down"
  // (Kind::shutting_down). Returns once every callback has been made (except when called
  // from a callback, which cannot wait for its own thread). The destructor calls it;
  // never destroy a fetcher from one of its callbacks.
  virtual void stop() = 0;
};

// Decides whether a connection to an address may be made: nullopt to allow, else why not
// ("blocked address 10.0.0.1 (private)"). Called for every connection, redirects included.
using AddressFilter = std::function<std::optional<std::string>(const sockaddr*)>;

// libcurl multi on one thread; `concurrency` below 1 counts as 1. Unless
// limits.allow_private_networks, connections go through blocked_reason() from
// address_guard.hpp.
std::unique_ptr<Fetcher> make_curl_fetcher(FetchLimits limits, int concurrency);

// The same with a caller-chosen address policy, which replaces the default one
// (allow_private_networks is then not consulted); an empty filter allows everything.
// Tests use it to allow one loopback origin and check that a redirect to anything else is
// refused at connect time.
std::unique_ptr<Fetcher> make_curl_fetcher(FetchLimits limits, int concurrency,
                                           AddressFilter filter);

}  // namespace imgbatch::fetch
