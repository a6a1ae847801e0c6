#include "listen_address.hpp"

#include "http/server.hpp"

#include <restinio/asio_include.hpp>

#include "params.hpp"

namespace imgbatch::http {

namespace {
core::Error bad(std::string_view text, std::string_view why) {
  return core::make_error("invalid listen address '" + std::string(text) +
                          "': " + std::string(why) +
                          "; expected HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:8080 or "
                          "[::1]:8080");
}
}  // namespace

core::Result<ListenAddress> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "missing ']'");
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad(text, "missing ':PORT' after ']'");
    port_text = rest.substr(1);
    bracketed = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad(text, "missing ':PORT'");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return bad(text, "an IPv6 address must be written in brackets");
  }
  if (host.empty()) return bad(text, "missing host");
  const auto port = parse_integer(port_text);
  if (!port || *port < 0 || *port > 65535) return bad(text, "the port must be 0 to 65535");

  ListenAddress address;
  address.port = static_cast<std::uint16_t>(*port);
  address.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  restinio::asio_ns::error_code ec;
  const auto ip = restinio::asio_ns::ip::make_address(address.host, ec);
  if (ec) return bad(text, "the host must be an IP address or 'localhost'");
  if (ip.is_v6() != bracketed)
    return bad(text, ip.is_v6() ? "an IPv6 address must be written in brackets"
                                : "only IPv6 addresses go in brackets");
  address.ipv6 = ip.is_v6();
  return address;
}

bool listens_on_loopback(std::string_view listen) {
  const auto address = parse_listen_address(listen);
  if (!address) return false;
  restinio::asio_ns::error_code ec;
  const auto ip = restinio::asio_ns::ip::make_address(address->host, ec);
  return !ec && ip.is_loopback();
}

}  // namespace imgbatch::http
