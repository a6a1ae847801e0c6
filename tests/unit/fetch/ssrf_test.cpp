// The SSRF guard in the fetcher. Every address here is a loopback one: the guard must
// refuse it at connect time, so nothing reaches the origin. No test sends traffic to a
// non-loopback address (public addresses are only classified, in address_guard_test).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "fetch/address_guard.hpp"
#include "fetch/fetcher.hpp"
#include "fetch_helpers.hpp"
#include "support/test_origin.hpp"

using namespace imgbatch::fetch;
using namespace imgbatch::fetch::testing_helpers;
using imgbatch::test_support::TestOrigin;

namespace {

constexpr const char* kHint = "; private networks are not fetched unless --allow-private-networks";

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// The default guard, except that one origin (127.0.0.1 on one port) may be reached: so a
// test can follow a redirect from it and see the next hop judged on its own.
AddressFilter guard_except(std::uint16_t allowed_port) {
  return [allowed_port](const sockaddr* a) -> std::optional<std::string> {
    if (a->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a);
      if (ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK && ntohs(in->sin_port) == allowed_port)
        return std::nullopt;
    }
    return blocked_reason(a);
  };
}

}  // namespace

TEST(SsrfGuard, IsOnByDefaultAndNamesTheAddress) {
  TestOrigin origin;
  auto fetcher = make_curl_fetcher(FetchLimits{}, 2);
  const FetchResult r = fetch_one(*fetcher, origin.url("/photos/Aqua.jpg"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "blocked address 127.0.0.1 (loopback); private networks are not fetched unless "
            "--allow-private-networks");
  EXPECT_EQ(kind_of(r), Kind::blocked_address);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(origin.total_requests(), 0u);
  EXPECT_EQ(origin.connections_accepted(), 0u);

  // The same download with the guard lifted works: it was the guard that refused.
  const FetchResult allowed =
      fetch_one(*make_curl_fetcher(loopback_limits(), 1), origin.url("/photos/Aqua.jpg"));
  EXPECT_TRUE(allowed.ok()) << allowed.error();
}

TEST(SsrfGuard, RefusesLoopbackInEveryNotation) {
  TestOrigin origin;
  auto fetcher = make_curl_fetcher(FetchLimits{}, 4);
  const std::string port = std::to_string(origin.port());
  const std::string hosts[] = {"127.0.0.1", "localhost",          "2130706433",      "0x7f000001",
                               "0x7f.1",    "0177.0.0.1",         "127.1",           "127.0.0.2",
                               "[::1]",     "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0",
                               "0"};
  for (const std::string& host : hosts) {
    const FetchResult r = fetch_one(*fetcher, "http://" + host + ":" + port + "/photos/Aqua.jpg");
    EXPECT_FALSE(r.ok()) << host;
    EXPECT_EQ(r.error().rfind("blocked address ", 0), 0u) << host << ": " << r.error();
    EXPECT_TRUE(ends_with(r.error(), kHint)) << host << ": " << r.error();
    EXPECT_TRUE(r.error().find("(loopback)") != std::string::npos ||
                r.error().find("(unspecified)") != std::string::npos)
        << host << ": " << r.error();
    EXPECT_EQ(kind_of(r), Kind::blocked_address) << host;
  }
  EXPECT_EQ(origin.total_requests(), 0u);
  EXPECT_EQ(origin.connections_accepted(), 0u);
}

TEST(SsrfGuard, ChecksEveryRedirectHopAtConnectTime) {
  TestOrigin allowed;
  TestOrigin internal;  // stands for an internal service the redirect points at
  auto fetcher = make_curl_fetcher(FetchLimits{}, 2, guard_except(allowed.port()));
  const std::string port = std::to_string(internal.port());

  // Control: a redirect that stays on the allowed origin is followed.
  const FetchResult home =
      fetch_one(*fetcher, allowed.url("/redirect-to?url=%2Fphotos%2FAqua.jpg"));
  EXPECT_TRUE(home.ok()) << home.error();

  for (const char* host : {"127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"}) {
    const std::string target = std::string("http://") + host + ":" + port + "/photos/Aqua.jpg";
    const FetchResult r = fetch_one(*fetcher, allowed.url("/redirect-to?url=" + target));
    EXPECT_FALSE(r.ok()) << target;
    EXPECT_EQ(r.error().rfind("blocked address ", 0), 0u) << target << ": " << r.error();
    EXPECT_NE(r.error().find("(loopback)"), std::string::npos) << r.error();
    EXPECT_EQ(kind_of(r), Kind::blocked_address);
  }
  EXPECT_EQ(allowed.request_count("/redirect-to"), 5u);
  EXPECT_EQ(internal.total_requests(), 0u);
  EXPECT_EQ(internal.connections_accepted(), 0u);
}
