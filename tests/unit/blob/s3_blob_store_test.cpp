// What the S3 backend does beyond the conformance suite, against the real gateway: the
// headers objects are stored with, presigned links (fetched with a plain HTTP client, as
// a browser would), the start-up check's answers, and a gateway that goes away.
#include "s3_blob_store.hpp"

#include <stdlib.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/ceph_cluster.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/silent_server.hpp"

namespace imgbatch::blob {
namespace {

using test_support::CephCluster;
using test_support::HttpClient;
using test_support::SilentServer;

CephCluster& ceph() { return CephCluster::shared(); }

// Sets the AWS variables for the test's length, then puts back what was there.
class AwsEnvironment {
 public:
  AwsEnvironment(const char* key, const char* secret) {
    save("AWS_ACCESS_KEY_ID", key);
    save("AWS_SECRET_ACCESS_KEY", secret);
  }
  ~AwsEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  void save(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { bucket_ = ceph().create_bucket(); }

  std::unique_ptr<BlobStore> open(const std::string& uri) {
    BlobStoreOptions options;
    options.s3_endpoint = ceph().endpoint();
    options.s3_region = CephCluster::kRegion;
    return open_blob_store(uri, options);
  }
  std::unique_ptr<BlobStore> open() { return open("s3://" + bucket_ + "/images"); }

  // The message open() throws with, or "" when it opens.
  std::string refusal(const std::string& uri, const std::string& endpoint) {
    BlobStoreOptions options;
    options.s3_endpoint = endpoint;
    options.s3_region = CephCluster::kRegion;
    try {
      open_blob_store(uri, options);
    } catch (const StorageUnusable& e) {
      return e.what();
    }
    return "";
  }

  AwsEnvironment credentials_{CephCluster::kAccessKey, CephCluster::kSecretKey};
  std::string bucket_;
};

TEST_F(S3BlobStoreTest, ObjectsAreStoredUnderThePrefixWithTypeAndCaching) {
  auto blobs = open();
  ASSERT_TRUE(blobs->put("REQ/0-0.jpg", "\xff\xd8\xff jpeg").ok());
  ASSERT_TRUE(blobs->put("REQ/0-1.webp", "RIFF webp").ok());
  EXPECT_EQ(ceph().list_keys(bucket_),
            (std::vector<std::string>{"images/REQ/0-0.jpg", "images/REQ/0-1.webp"}));

  for (const auto& [key, type] : {std::pair<std::string, std::string>{"REQ/0-0.jpg", "image/jpeg"},
                                  {"REQ/0-1.webp", "image/webp"}}) {
    const auto link = blobs->presigned_url(key, std::chrono::minutes(5));
    ASSERT_TRUE(link.ok()) << link.message();
    // A link is a whole URL: fetched as it is, as a browser would.
    const auto response = HttpClient(ceph().endpoint()).get(*link);
    ASSERT_EQ(response.status, 200) << *link << "\n" << response.body;
    EXPECT_EQ(response.header("content-type").value_or(""), type);
    EXPECT_EQ(response.header("cache-control").value_or(""), kImmutableCacheControl);
    // The object's ETag is what the backend reports as its tag.
    EXPECT_EQ(response.header("etag").value_or(""), "\"" + blobs->stat(key)->etag + "\"");
  }
}

// A presigned link is a plain GET anyone may make until it expires; changing any part of
// it, or waiting past its end, gets 403 from the gateway.
TEST_F(S3BlobStoreTest, APresignedLinkWorksAsGivenAndOnlySo) {
  auto blobs = open();
  ASSERT_TRUE(blobs->put("REQ/0-0.jpg", "the image").ok());
  ASSERT_TRUE(blobs->put("REQ/1-0.jpg", "another image").ok());
  const auto link = *blobs->presigned_url("REQ/0-0.jpg", std::chrono::hours(1));
  EXPECT_EQ(link.rfind(ceph().endpoint() + "/" + bucket_ + "/images/REQ/0-0.jpg?", 0), 0u) << link;
  const HttpClient client(ceph().endpoint());
  EXPECT_EQ(client.get(link).body, "the image");

  auto other_object = link;
  other_object.replace(other_object.find("/0-0.jpg"), 8, "/1-0.jpg");
  auto longer = link;
  longer.replace(longer.find("X-Amz-Expires=3600"), 18, "X-Amz-Expires=7200");
  auto forged = link;
  const auto at = forged.find("X-Amz-Signature=") + 16;
  forged[at] = forged[at] == 'a' ? 'b' : 'a';
  for (const auto& bad : {other_object, longer, forged}) {
    const auto response = client.get(bad);
    EXPECT_EQ(response.status, 403) << bad;
    EXPECT_EQ(response.body.find("image"), std::string::npos) << response.body;
  }

  const auto short_lived = *blobs->presigned_url("REQ/0-0.jpg", std::chrono::seconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(client.get(short_lived).status, 403);
}

// The start-up check says which part is wrong, and never shows the secret.
TEST_F(S3BlobStoreTest, TheStartUpCheckSaysWhatIsWrong) {
  EXPECT_EQ(refusal("s3://" + bucket_ + "/images", ceph().endpoint()), "");
  EXPECT_NE(refusal("s3://no-such-" + bucket_, ceph().endpoint()).find("does not exist"),
            std::string::npos);
  const auto closed = "http://127.0.0.1:" + std::to_string(test_support::free_port());
  EXPECT_NE(refusal("s3://" + bucket_, closed).find("cannot reach S3 endpoint " + closed),
            std::string::npos);
  EXPECT_NE(refusal("s3://Not_A_Bucket", ceph().endpoint()).find("is not a bucket name"),
            std::string::npos);
  {
    AwsEnvironment wrong(CephCluster::kAccessKey, "wrong-secret-key");
    const auto message = refusal("s3://" + bucket_, ceph().endpoint());
    EXPECT_NE(message.find("refused the credentials"), std::string::npos) << message;
    EXPECT_EQ(message.find("wrong-secret-key"), std::string::npos) << message;
  }
  {
    AwsEnvironment unknown("NOSUCHACCESSKEY", CephCluster::kSecretKey);
    const auto message = refusal("s3://" + bucket_, ceph().endpoint());
    EXPECT_NE(message.find("refused the credentials"), std::string::npos) << message;
    EXPECT_EQ(message.find(CephCluster::kSecretKey), std::string::npos) << message;
  }
  {
    AwsEnvironment none(nullptr, nullptr);
    EXPECT_NE(refusal("s3://" + bucket_, ceph().endpoint()).find("AWS_ACCESS_KEY_ID"),
              std::string::npos);
  }
}

// With the gateway gone, a put fails (after its few quick retries) with a message fit for
// the image's error entry, and works again once the gateway is back.
TEST_F(S3BlobStoreTest, AGatewayThatGoesAwayFailsPutsUntilItIsBack) {
  auto blobs = open();
  ASSERT_TRUE(blobs->put("REQ/0-0.jpg", "before").ok());
  ceph().stop_gateway();
  const auto failed = blobs->put("REQ/0-1.jpg", "during");
  const auto read = blobs->get("REQ/0-0.jpg");
  const auto info = blobs->stat("REQ/0-0.jpg");
  ceph().start_gateway();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.message().rfind("could not store image: S3 answered no answer: ", 0), 0u)
      << failed.message();
  // Reads fail as "unavailable", not "not found": the image is there, the gateway is not.
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().kind, BlobError::Kind::unavailable) << read.message();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, BlobError::Kind::unavailable) << info.message();
  ASSERT_TRUE(blobs->put("REQ/0-1.jpg", "after").ok());
  EXPECT_EQ(blobs->get("REQ/0-1.jpg")->bytes, "after");
  EXPECT_EQ(blobs->get("REQ/0-0.jpg")->bytes, "before");
}

// An S3 store whose gateway took the connection and went silent.
S3BlobStore silent_store(const SilentServer& gateway, S3ClientOptions options) {
  auto location = parse_s3_location("s3://bucket/images", gateway.url(), "us-east-1");
  if (!location) throw std::runtime_error(location.message());
  return S3BlobStore(*location, S3Credentials{"AKID", "SECRET", ""}, "us-east-1", options);
}

// A request that moves nothing for the stall timeout fails as a timeout, long before the
// whole-request timeout: a hung gateway costs seconds, not minutes.
TEST(S3BlobStoreHungGateway, AStalledRequestFailsAfterTheStallTimeout) {
  SilentServer gateway;
  S3ClientOptions options;
  options.stall_timeout = std::chrono::seconds(1);
  options.attempts = 1;
  auto blobs = silent_store(gateway, options);
  const auto put = blobs.put("REQ/0-0.jpg", "bytes");
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.message().find("no answer"), std::string::npos) << put.message();
  const auto read = blobs.get("REQ/0-0.jpg");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().kind, BlobError::Kind::unavailable) << read.message();
}

// Shutdown past its grace cuts a put hung on a silent gateway at once, and later puts fail
// without trying; reads are left alone.
TEST(S3BlobStoreHungGateway, AbandonedWritesEndAtOnce) {
  SilentServer gateway;
  S3ClientOptions options;
  options.stall_timeout = std::chrono::seconds(600);  // only abandon_writes can end it
  options.timeout = std::chrono::milliseconds(600'000);
  auto blobs = silent_store(gateway, options);
  std::optional<PutResult> hung;
  std::thread writer([&] { hung = blobs.put("REQ/0-0.jpg", "bytes"); });
  // The PUT has reached the gateway (and waits for an answer) before it is cut.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (gateway.connections() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(gateway.connections(), 1);  // (no ASSERT: the writer must be joined)
  blobs.abandon_writes();
  writer.join();  // would wait ten minutes if the cut did not work
  ASSERT_TRUE(hung.has_value());
  ASSERT_FALSE(hung->ok());
  EXPECT_NE(hung->message().find("abandoned"), std::string::npos) << hung->message();
  EXPECT_EQ(hung->error().kind, BlobError::Kind::unavailable);
  const auto later = blobs.put("REQ/0-1.jpg", "bytes");
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.message().find("abandoned"), std::string::npos) << later.message();
  EXPECT_EQ(gateway.connections(), 1) << "a later put is not even sent";
}

}  // namespace
}  // namespace imgbatch::blob
