#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <string>

#include "fetch/address_guard.hpp"

using imgbatch::fetch::address_to_string;
using imgbatch::fetch::blocked_reason;

namespace {

// A sockaddr for a numeric address, as curl hands it to the open-socket callback.
sockaddr_storage address(const std::string& text) {
  sockaddr_storage storage{};
  if (text.find(':') == std::string::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(80);
    EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &in->sin_addr), 1) << text;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(443);
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr), 1) << text;
  }
  return storage;
}

std::optional<std::string> reason(const std::string& text) {
  const sockaddr_storage s = address(text);
  return blocked_reason(reinterpret_cast<const sockaddr*>(&s));
}

struct Case {
  const char* address;
  const char* range;  // nullptr: allowed
};

}  // namespace

TEST(AddressGuard, BlocksEveryNonPublicIpv4RangeAtItsEdges) {
  const Case cases[] = {
      {"0.0.0.0", "unspecified"},
      {"0.255.255.255", "unspecified"},
      {"127.0.0.1", "loopback"},
      {"127.255.255.254", "loopback"},
      {"10.0.0.0", "private"},
      {"10.255.255.255", "private"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"192.168.0.1", "private"},
      {"192.168.255.255", "private"},
      {"169.254.169.254", "link-local"},
      {"169.254.0.1", "link-local"},
      {"100.64.0.1", "carrier-grade NAT"},
      {"100.127.255.255", "carrier-grade NAT"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.255", "multicast"},
      {"240.0.0.1", "reserved"},
      {"254.255.255.255", "reserved"},
      {"255.255.255.255", "broadcast"},
  };
  for (const Case& c : cases) {
    const auto r = reason(c.address);
    ASSERT_TRUE(r.has_value()) << c.address;
    EXPECT_EQ(*r, std::string("blocked address ") + c.address + " (" + c.range + ")");
  }
}

TEST(AddressGuard, AllowsPublicIpv4IncludingNeighboursOfBlockedRanges) {
  for (const char* a : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "1.0.0.0", "9.255.255.255",
                        "11.0.0.0", "126.255.255.255", "128.0.0.0", "172.15.255.255", "172.32.0.0",
                        "192.167.255.255", "192.169.0.0", "169.253.255.255", "169.255.0.0",
                        "100.63.255.255", "100.128.0.0", "223.255.255.255"})
    EXPECT_EQ(reason(a), std::nullopt) << a;
}

TEST(AddressGuard, BlocksNonPublicIpv6Ranges) {
  const Case cases[] = {
      {"::", "unspecified"},     {"::1", "loopback"},
      {"fc00::1", "private"},    {"fd12:3456:789a::1", "private"},
      {"fe80::1", "link-local"}, {"febf:ffff::1", "link-local"},
      {"fec0::1", "site-local"}, {"ff02::1", "multicast"},
      {"ff0e::1", "multicast"},  {"64:ff9b:1::1", "private"},
  };
  for (const Case& c : cases) {
    const auto r = reason(c.address);
    ASSERT_TRUE(r.has_value()) << c.address;
    EXPECT_EQ(*r, std::string("blocked address ") + c.address + " (" + c.range + ")");
  }
}

TEST(AddressGuard, JudgesIpv6FormsThatCarryAnIpv4AddressByThatAddress) {
  // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 all reach the embedded IPv4 host.
  EXPECT_EQ(reason("::ffff:127.0.0.1"), "blocked address ::ffff:127.0.0.1 (loopback)");
  EXPECT_EQ(reason("::ffff:10.1.2.3"), "blocked address ::ffff:10.1.2.3 (private)");
  EXPECT_EQ(reason("::ffff:169.254.169.254"),
            "blocked address ::ffff:169.254.169.254 (link-local)");
  EXPECT_EQ(reason("::ffff:0.0.0.0"), "blocked address ::ffff:0.0.0.0 (unspecified)");
  EXPECT_EQ(reason("::127.0.0.1"), "blocked address ::127.0.0.1 (loopback)");
  EXPECT_EQ(reason("::192.168.1.1"), "blocked address ::192.168.1.1 (private)");
  EXPECT_EQ(reason("64:ff9b::7f00:1"), "blocked address 64:ff9b::7f00:1 (loopback)");
  EXPECT_EQ(reason("64:ff9b::a9fe:a9fe"), "blocked address 64:ff9b::a9fe:a9fe (link-local)");
  EXPECT_EQ(reason("2002:7f00:1::"), "blocked address 2002:7f00:1:: (loopback)");
  EXPECT_EQ(reason("2002:c0a8:101::1"), "blocked address 2002:c0a8:101::1 (private)");

  EXPECT_EQ(reason("::ffff:8.8.8.8"), std::nullopt);
  EXPECT_EQ(reason("64:ff9b::808:808"), std::nullopt);
  EXPECT_EQ(reason("2002:808:808::1"), std::nullopt);
}

TEST(AddressGuard, AllowsPublicIpv6) {
  for (const char* a : {"2001:4860:4860::8888", "2001:4860::8888", "2606:4700:4700::1111",
                        "2a00:1450:4001:80b::200e", "2400:cb00::1", "fbff::1", "fe7f::1"})
    EXPECT_EQ(reason(a), std::nullopt) << a;
}

TEST(AddressGuard, BlocksFamiliesOtherThanIp) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const auto r = blocked_reason(reinterpret_cast<const sockaddr*>(&un));
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("only IPv4 and IPv6"), std::string::npos) << *r;
}

TEST(AddressGuard, FormatsAddressesNumerically) {
  const auto v4 = address("192.0.2.7");
  const auto v6 = address("2001:db8::1");
  EXPECT_EQ(address_to_string(reinterpret_cast<const sockaddr*>(&v4)), "192.0.2.7");
  EXPECT_EQ(address_to_string(reinterpret_cast<const sockaddr*>(&v6)), "2001:db8::1");
}
