// --listen parsing, and the server refusing to start on a bad or busy address.
#include <gtest/gtest.h>

#include <memory>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "http/listen_address.hpp"
#include "http/server.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch::http {
namespace {

TEST(ListenAddress, AcceptsIpv4Ipv6AndLocalhost) {
  auto v4 = parse_listen_address("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok()) << v4.message();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_FALSE(v4->ipv6);

  auto v6 = parse_listen_address("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(v6->ipv6);

  auto local = parse_listen_address("localhost:65535");
  ASSERT_TRUE(local.ok()) << local.message();
  EXPECT_EQ(local->host, "127.0.0.1");
  EXPECT_EQ(local->port, 65535);
}

TEST(ListenAddress, RejectsMalformedValuesNamingThem) {
  for (const char* bad :
       {"8080", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:80x", "example.com:80", "::1:80", "[::1]80", "[::1:80", "[127.0.0.1]:80", ""}) {
    auto parsed = parse_listen_address(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.message().find("'" + std::string(bad) + "'"), std::string::npos)
          << parsed.message();
      EXPECT_NE(parsed.message().find("HOST:PORT"), std::string::npos) << parsed.message();
    }
  }
}

class NullBlobStore : public blob::BlobStore {
 public:
  blob::PutResult put(const std::string&, std::string_view) override { return core::Ok{}; }
  blob::BlobResult<blob::StoredObject> get(const std::string&) override {
    return blob::BlobError{blob::BlobError::Kind::not_found, "missing"};
  }
  blob::BlobResult<blob::ObjectInfo> stat(const std::string&) override {
    return blob::BlobError{blob::BlobError::Kind::not_found, "missing"};
  }
  bool exists(const std::string&) override { return false; }
  core::Status remove(const std::string&) override { return core::ok_status(); }
};

TEST(ServerStart, ThrowsForABadListenValue) {
  test_support::TempDir dir;
  auto store = store::open_store("sqlite:" + (dir / "db.sqlite"));
  NullBlobStore blob;
  core::Config config;
  config.listen = "localhost";
  Server server(config, *store, blob);
  try {
    server.start();
    FAIL() << "start() accepted listen value 'localhost'";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'localhost'"), std::string::npos) << e.what();
  }
}

TEST(ServerStart, ThrowsWhenThePortIsTaken) {
  test_support::TempDir dir;
  auto store = store::open_store("sqlite:" + (dir / "db.sqlite"));
  NullBlobStore blob;
  core::Config config;
  config.listen = "127.0.0.1:0";
  Server first(config, *store, blob);
  first.start();
  ASSERT_NE(first.port(), 0);

  core::Config same = config;
  same.listen = "127.0.0.1:" + std::to_string(first.port());
  Server second(same, *store, blob);
  EXPECT_THROW(second.start(), std::runtime_error);
  first.stop();
}

}  // namespace
}  // namespace imgbatch::http
