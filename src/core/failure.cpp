#include "core/failure.hpp"

#include <ostream>

namespace imgbatch::core {

static_assert(static_cast<std::size_t>(Failure::Kind::storage_error) + 1 == kFailureKindCount,
              "kFailureKindCount counts every kind; storage_error is the last");

std::string_view to_string(Failure::Kind kind) {
  using Kind = Failure::Kind;
  switch (kind) {
    case Kind::http_error:
      return "http_error";
    case Kind::http_unavailable:
      return "http_unavailable";
    case Kind::timed_out:
      return "timed_out";
    case Kind::too_slow:
      return "too_slow";
    case Kind::dns_timeout:
      return "dns_timeout";
    case Kind::connect_timeout:
      return "connect_timeout";
    case Kind::dns:
      return "dns";
    case Kind::connect:
      return "connect";
    case Kind::tls_refused:
      return "tls_refused";
    case Kind::no_response:
      return "no_response";
    case Kind::truncated:
      return "truncated";
    case Kind::blocked_address:
      return "blocked_address";
    case Kind::too_large:
      return "too_large";
    case Kind::too_many_redirects:
      return "too_many_redirects";
    case Kind::unsupported_scheme:
      return "unsupported_scheme";
    case Kind::invalid_url:
      return "invalid_url";
    case Kind::shutting_down:
      return "shutting_down";
    case Kind::download_error:
      return "download_error";
    case Kind::not_an_image:
      return "not_an_image";
    case Kind::unsupported_format:
      return "unsupported_format";
    case Kind::too_many_pixels:
      return "too_many_pixels";
    case Kind::decode_error:
      return "decode_error";
    case Kind::convert_error:
      return "convert_error";
    case Kind::encode_error:
      return "encode_error";
    case Kind::storage_error:
      return "storage_error";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, Failure::Kind kind) { return out << to_string(kind); }

}  // namespace imgbatch::core
