#include "fetch/address_guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>

namespace imgbatch::fetch {
namespace {

// The range an IPv4 address (host byte order) falls in, or nullptr when it is public.
const char* ipv4_range(std::uint32_t a) {
  if ((a >> 24) == 0) return "unspecified";
  if ((a >> 24) == 127) return "loopback";
  if ((a >> 24) == 10) return "private";
  if ((a & 0xFFF00000u) == 0xAC100000u) return "private";     // 172.16.0.0/12
  if ((a & 0xFFFF0000u) == 0xC0A80000u) return "private";     // 192.168.0.0/16
  if ((a & 0xFFFF0000u) == 0xA9FE0000u) return "link-local";  // 169.254.0.0/16, cloud metadata
  if ((a & 0xFFC00000u) == 0x64400000u) return "carrier-grade NAT";  // 100.64.0.0/10
  if (a == 0xFFFFFFFFu) return "broadcast";
  if ((a & 0xF0000000u) == 0xE0000000u) return "multicast";  // 224.0.0.0/4
  if ((a & 0xF0000000u) == 0xF0000000u) return "reserved";   // 240.0.0.0/4
  return nullptr;
}

std::uint32_t ipv4_at(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

bool all_zero(const unsigned char* b, int n) {
  for (int i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

const char* ipv6_range(const unsigned char* b) {
  if (all_zero(b, 16)) return "unspecified";
  if (all_zero(b, 15) && b[15] == 1) return "loopback";
  // Forms that carry an IPv4 address: the kernel (or a NAT64/6to4 gateway) would reach the
  // IPv4 host, so the IPv4 rules apply to it.
  if (all_zero(b, 10) && b[10] == 0xFF && b[11] == 0xFF) return ipv4_range(ipv4_at(b + 12));
  if (all_zero(b, 12)) return ipv4_range(ipv4_at(b + 12));  // IPv4-compatible (deprecated)
  static constexpr unsigned char kNat64[12] = {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kNat64, 12) == 0) return ipv4_range(ipv4_at(b + 12));
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0x00 && b[5] == 0x01)
    return "private";  // 64:ff9b:1::/48, local-use NAT64 (RFC 8215)
  if (b[0] == 0x20 && b[1] == 0x02) return ipv4_range(ipv4_at(b + 2));  // 6to4
  if ((b[0] & 0xFE) == 0xFC) return "private";                          // fc00::/7 unique local
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "link-local";       // fe80::/10
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "site-local";       // fec0::/10 (deprecated)
  if (b[0] == 0xFF) return "multicast";                                 // ff00::/8
  return nullptr;
}

}  // namespace

std::string address_to_string(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

std::optional<std::string> blocked_reason(const sockaddr* address) {
  const char* range = nullptr;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    range = ipv4_range(ntohl(in->sin_addr.s_addr));
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    range = ipv6_range(in6->sin6_addr.s6_addr);
  } else {
    return "blocked address of family " + std::to_string(address->sa_family) +
           " (only IPv4 and IPv6 are fetched)";
  }
  if (range == nullptr) return std::nullopt;
  return "blocked address " + address_to_string(address) + " (" + range + ")";
}

}  // namespace imgbatch::fetch
