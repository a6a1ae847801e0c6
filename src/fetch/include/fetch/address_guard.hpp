// The SSRF guard: classifies the address a socket is about to connect to. Checking the
// address actually connected (rather than the host name in a URL) covers DNS names, DNS
// rebinding, every redirect hop and odd notations such as 2130706433 or 0x7f.1, because
// they all end up here as a resolved sockaddr. The fetcher and the webhook sender call it
// from curl's CURLOPT_OPENSOCKETFUNCTION.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

namespace imgbatch::fetch {

// Why a connection to `address` must not be made, naming it: "blocked address 127.0.0.1
// (loopback)"; nullopt for a public address. Blocked: unspecified/this network, loopback,
// private (RFC 1918, IPv6 unique local), link-local, carrier-grade NAT, multicast,
// reserved, broadcast; IPv6 forms that embed a blocked IPv4 address (IPv4-mapped,
// IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16); and any family but IPv4/IPv6.
std::optional<std::string> blocked_reason(const sockaddr* address);

// The numeric form of an IPv4 or IPv6 address ("127.0.0.1", "::1"); "?" for other families.
std::string address_to_string(const sockaddr* address);

}  // namespace imgbatch::fetch
