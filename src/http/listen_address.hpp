// The --listen value, "HOST:PORT" or "[IPV6]:PORT". HOST is an IP address literal or
// "localhost"; PORT 0 lets the system choose (tests use it, then ask Server::port()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::http {

struct ListenAddress {
  std::string host;  // without brackets: "127.0.0.1", "::1"
  std::uint16_t port = 0;
  bool ipv6 = false;
};

// An error message names the bad value and shows the expected form.
core::Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace imgbatch::http
