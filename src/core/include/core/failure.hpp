// Failure: why one image could not be had, as a kind the program acts on and a message
// for the user. Whoever sees a failure happen (the fetcher, the compressor, the pipeline's
// storing step) chooses its kind there, from what it observed, and writes the message;
// whoever reacts to it (retry or not, which metric label) reads only the kind, never the
// wording. So a message can be reworded without changing what the program does.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>

namespace imgbatch::core {

struct Failure {
  enum class Kind {
    // A download.
    http_error,          // the host answered an error status that will not change (4xx, 3xx)
    http_unavailable,    // 408, 429 or 5xx: the host is busy or broken for now
    timed_out,           // the whole download ran out of time
    too_slow,            // slower than the low-speed limit for its whole window
    dns_timeout,         // the host name was not resolved in time
    connect_timeout,     // no connection within the connect timeout
    dns,                 // the host name could not be resolved
    connect,             // refused, reset, a broken reply, a failed TLS handshake
    tls_refused,         // the host's certificate was refused
    no_response,         // the transfer ended without an HTTP response
    truncated,           // the body ended before its Content-Length (or the connection did)
    blocked_address,     // the address guard refused the host's addresses
    too_large,           // more bytes than --max-image-bytes
    too_many_redirects,  // more than the redirect limit
    unsupported_scheme,  // not http or https (also through a redirect)
    invalid_url,         // curl could not parse the URL
    shutting_down,       // the fetcher stopped before the download ended
    download_error,      // anything else curl reports (out of memory, an internal error)
    // Image work.
    not_an_image,        // no known image format in the bytes
    unsupported_format,  // a known format outside the allow-list (SVG, PDF, …)
    too_many_pixels,     // more than --max-pixels
    decode_error,        // corrupt or truncated image data
    convert_error,       // decodable, but orientation, colour or transparency failed
    encode_error,        // the output format cannot hold it, or is not available
    // Storing the output.
    // The blob store refused this output (BlobError::Kind::refused). A storage that is
    // unavailable fails no image: the pipeline holds it until a write works.
    storage_error,
  };

  Kind kind;
  std::string message;  // for a user: names the cause, e.g. "download failed: HTTP 404"
};

inline constexpr std::size_t kFailureKindCount = 25;

// A stable name for logs and tests: "http_error", "storage_error", …
std::string_view to_string(Failure::Kind kind);
// Writes to_string(kind), so a test's failed expectation shows the name.
std::ostream& operator<<(std::ostream& out, Failure::Kind kind);

inline Failure make_failure(Failure::Kind kind, std::string message) {
  return Failure{kind, std::move(message)};
}

}  // namespace imgbatch::core
