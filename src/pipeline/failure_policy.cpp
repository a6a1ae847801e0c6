#include "failure_policy.hpp"

namespace imgbatch::pipeline {

FailurePolicy policy_for(core::Failure::Kind kind) {
  using Kind = core::Failure::Kind;
  using Reason = metrics::FailureReason;
  constexpr bool retry = true;
  constexpr bool give_up = false;
  switch (kind) {
    // The host will answer the same way again (404, 403, …).
    case Kind::http_error:
      return {give_up, Reason::download_http_status};
    // 408 and 429 ask to come back later; a 5xx is the host's own trouble, often brief.
    case Kind::http_unavailable:
      return {retry, Reason::download_http_status};
    case Kind::timed_out:
    case Kind::too_slow:
    case Kind::dns_timeout:
    case Kind::connect_timeout:
      return {retry, Reason::download_timeout};
    // A DNS failure is often momentary (a resolver hiccup); so is a reset connection or a
    // body cut short.
    case Kind::dns:
    case Kind::connect:
    case Kind::no_response:
    case Kind::truncated:
      return {retry, Reason::download_connection};
    // A host with a bad certificate will not have a good one a minute later.
    case Kind::tls_refused:
      return {give_up, Reason::download_connection};
    case Kind::blocked_address:
      return {give_up, Reason::blocked_address};
    case Kind::too_large:
      return {give_up, Reason::too_large};
    case Kind::too_many_redirects:
    case Kind::unsupported_scheme:
    case Kind::invalid_url:
      return {give_up, Reason::bad_url};
    // Not the image's fault: the next attempt (here or in another process) may do it.
    case Kind::shutting_down:
    case Kind::download_error:
      return {retry, Reason::other};
    // The bytes are what they are: decoding them again gives the same answer.
    case Kind::not_an_image:
    case Kind::unsupported_format:
      return {give_up, Reason::not_an_image};
    case Kind::too_many_pixels:
      return {give_up, Reason::too_many_pixels};
    case Kind::decode_error:
      return {give_up, Reason::corrupt_image};
    case Kind::convert_error:
    case Kind::encode_error:
      return {give_up, Reason::cannot_convert};
    // Refused for this output (a bad checksum, say): worth another encode and upload.
    case Kind::storage_error:
      return {retry, Reason::storage};
  }
  return {give_up, Reason::other};
}

}  // namespace imgbatch::pipeline
