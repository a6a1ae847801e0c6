// How an ended transfer becomes a FetchResult: the kind of failure (core::Failure::Kind)
// and the user-facing message naming the cause. Both are chosen from what the transfer
// observed (curl's code, the phase it reached, the status), never from curl's wording.
// Kept apart from the curl plumbing so every mapping can be tested without a network (a
// DNS failure, say, cannot be provoked over loopback).
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <optional>
#include <string>

#include "fetch/fetcher.hpp"

namespace imgbatch::fetch::impl {

// How far the current hop of a transfer got, from curl's callbacks. curl reports every
// timeout as CURLE_OPERATION_TIMEDOUT; the phase says which part ran out of time.
enum class Phase {
  starting,      // nothing reported yet
  resolving,     // a name lookup started (a cached name skips it)
  connecting,    // a socket was opened: the name was resolved
  transferring,  // connected (or a connection reused): request and response
};

// What was observed during one transfer.
struct TransferFacts {
  CURLcode code = CURLE_OK;
  Phase phase = Phase::starting;
  long elapsed_ms = 0;                 // from the start of the transfer to its end
  long http_status = 0;                // of the last response; 0 when none arrived
  long long content_length = -1;       // of the last response; -1 when not given
  std::size_t body_bytes = 0;          // of the body kept
  bool too_large = false;              // refused on Content-Length or cut at max_bytes
  bool error_body_abandoned = false;   // stopped reading a non-2xx body on purpose
  std::optional<std::string> blocked;  // from the address filter, when it refused one
  std::optional<long> retry_after_seconds;
  std::string curl_message;  // CURLOPT_ERRORBUFFER: only quoted in messages
  std::string url;           // the last URL tried (a redirect target)
};

// Fills failure (none on success), http_status and retry_after_seconds of `result`.
void describe_outcome(const TransferFacts& facts, const FetchLimits& limits, FetchResult& result);

// Limits derived from FetchLimits, shared by the handle set-up and the messages.
long connect_timeout_ms(const FetchLimits& limits);
long low_speed_window_seconds(const FetchLimits& limits);

// "30", "0.5": seconds for a message.
std::string seconds_text(long milliseconds);

// The failure of a download the fetcher abandoned because it stops.
core::Failure shutting_down_failure();
inline constexpr const char* kPrivateNetworkHint =
    "; private networks are not fetched unless --allow-private-networks";

}  // namespace imgbatch::fetch::impl
