// Object storage end to end: a deployment that shares nothing but a PostgreSQL database
// and an S3 bucket, the bucket being Ceph's RADOS Gateway started by the test binary
// (tests/support/ceph_cluster.hpp), never a fake. Two API nodes and two workers of the
// real binary, each in an empty working directory of its own, hand out presigned links:
// every image is served by either node (proxied from the bucket) and through its link,
// which the gateway refuses once tampered with; a worker killed with SIGKILL loses
// nothing; the gateway stopped for a few seconds costs retries, not images. A process
// whose bucket cannot be used stops at start-up with exit code 2, saying why.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "scale_out.hpp"
#include "store/store.hpp"
#include "support/ceph_cluster.hpp"
#include "support/http_receiver.hpp"

namespace imgbatch::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

CephCluster& ceph() { return CephCluster::shared(); }

Environment aws_credentials(const std::string& secret = CephCluster::kSecretKey) {
  return {{"AWS_ACCESS_KEY_ID", CephCluster::kAccessKey}, {"AWS_SECRET_ACCESS_KEY", secret}};
}

// The storage options of a deployment on `bucket`, with presigned links valid for an hour.
DeploymentStorage bucket_storage(const std::string& bucket) {
  DeploymentStorage storage;
  storage.args = {"--storage",     "s3://" + bucket + "/shop",
                  "--s3-endpoint", ceph().endpoint(),
                  "--s3-region",   CephCluster::kRegion,
                  "--image-urls",  "presigned",
                  "--presign-ttl", "1h"};
  storage.env = aws_credentials();
  storage.own_working_directories = true;
  return storage;
}

class S3ScaleOut : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      cluster();
      ceph();
      small_photo_dir();
    } catch (const std::exception& e) {
      // Without the server binaries the message names scripts/install-deps.sh.
      GTEST_FAIL() << e.what();
    }
  }
};

// Starts the gateway again when a failed assertion leaves the test early.
struct GatewayBackOnExit {
  ~GatewayBackOnExit() { ceph().start_gateway(); }
};

TEST_F(S3ScaleOut, TwoApiNodesTwoWorkersShareOnlyTheDatabaseAndTheBucket) {
  TestOrigin origin(small_photo_dir());
  const std::string bucket = ceph().create_bucket();
  Deployment deployment(10, bucket_storage(bucket));
  ApiNode& node1 = deployment.start_api("api1");
  ApiNode& node2 = deployment.start_api("api2");
  ChildProcess& doomed = deployment.start_worker("worker1", 4);
  ChildProcess& survivor = deployment.start_worker("worker2", 4);
  deployment.wait_for_workers();

  HttpReceiver receiver([](const ReceivedRequest&) { return http_response(200, "OK"); });
  constexpr int kImages = 120;
  // The last third slower: about 5 s of downloads are left on one worker at the two-thirds
  // mark, when the gateway goes away, so that the worker still has images to store while
  // it is away. (With 60 ms throughout, the 0.6 s left could be done on a loaded machine
  // before the gateway had stopped, and no put failed.)
  std::string products = "S. No.,Product Name,Input Image Urls\n";
  for (int i = 0; i < kImages; ++i)
    products += std::to_string(i + 1) + ",SKU" + std::to_string(i + 1) + "," +
                origin.url(std::string(i < 2 * kImages / 3 ? "/sleep/60/" : "/sleep/500/") +
                           kSmallName + "?v=" + std::to_string(i)) +
                "\n";
  const auto uploaded = node1.client().post_form(
      "/upload", {{"file", products, "p.csv", "text/csv"},
                  {"webhook_url", "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook",
                   std::nullopt, ""}});
  ASSERT_EQ(uploaded.status, 202) << uploaded.body;
  const std::string id = uploaded.json()["request_id"];

  // A third of the way: one worker dies with what it holds.
  ASSERT_TRUE(wait_for_succeeded(node2.client(), id, kImages / 3, 90s)) << deployment.logs();
  doomed.signal(SIGKILL);
  ASSERT_EQ(doomed.wait(10s), 128 + SIGKILL);

  // Two thirds: the gateway goes away, longer than an image's attempts would last if each
  // failed put used one up (4 attempts, 1 + 2 + 4 s apart). The workers hold their images
  // and try the puts again until the gateway is back: no image fails, none is retried.
  ASSERT_TRUE(wait_for_succeeded(node2.client(), id, 2 * kImages / 3, 90s)) << deployment.logs();
  {
    GatewayBackOnExit guard;
    ceph().stop_gateway();
    const auto stopped = std::chrono::steady_clock::now();
    bool held = false;
    while (std::chrono::steady_clock::now() - stopped < 60s) {
      held = deployment.logs().find("not stored (could not store image: S3 answered no answer") !=
             std::string::npos;
      if (held && std::chrono::steady_clock::now() - stopped > 12s) break;
      std::this_thread::sleep_for(200ms);
    }
    EXPECT_TRUE(held) << "no put failed while the gateway was down\n" << deployment.logs();
    EXPECT_EQ(deployment.number("SELECT count(*) FROM tasks WHERE error LIKE 'could not store%'"),
              0)
        << "a failed put used up one of its image's attempts";
  }

  const auto doc = wait_until_ended(node1.client(), id, 120s);
  ASSERT_EQ(doc["status"], "completed") << doc.dump().substr(0, 500) << deployment.logs();
  EXPECT_EQ(doc["progress"]["succeeded"], kImages) << deployment.logs();
  EXPECT_EQ(doc["progress"]["failed"], 0);
  EXPECT_EQ(deployment.number("SELECT count(*) FROM tasks WHERE state = 'done'"), kImages);

  // In the bucket: one object per image, under the prefix, and nothing else.
  std::set<std::string> expected_keys;
  for (int i = 0; i < kImages; ++i)
    expected_keys.insert("shop/" + id + "/" + std::to_string(i) + "-0.jpg");
  const auto keys = ceph().list_keys(bucket);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected_keys);

  // Every image through both nodes (proxied from the bucket) and through its link.
  ASSERT_EQ(doc["products"].size(), static_cast<std::size_t>(kImages));
  for (int i = 0; i < kImages; ++i) {
    const auto& url = doc["products"][i]["output_image_urls"][0];
    ASSERT_TRUE(url.is_string()) << doc["products"][i].dump();
    const std::string link = url.get<std::string>();
    ASSERT_EQ(link.rfind(ceph().endpoint() + "/" + bucket + "/shop/" + id + "/", 0), 0u) << link;
    EXPECT_NE(link.find("X-Amz-Signature="), std::string::npos) << link;
    // A link is a whole URL: fetched as it is, as a browser would.
    const auto direct = HttpClient(ceph().endpoint()).get(link);
    ASSERT_EQ(direct.status, 200) << link << "\n" << direct.body;
    EXPECT_TRUE(is_jpeg(direct.body)) << link;
    EXPECT_EQ(direct.header("content-type").value_or(""), "image/jpeg");
    for (ApiNode* node : {&node1, &node2}) {
      const auto proxied = node->client().get("/images/" + id + "/" + std::to_string(i) + "-0.jpg");
      ASSERT_EQ(proxied.status, 200) << node->base_url();
      EXPECT_EQ(proxied.body, direct.body) << i;
      ASSERT_TRUE(proxied.header("etag").has_value());
      // The object's own tag revalidates through the proxy.
      const auto again = node->client().get("/images/" + id + "/" + std::to_string(i) + "-0.jpg",
                                            {{"If-None-Match", *proxied.header("etag")}});
      EXPECT_EQ(again.status, 304);
    }
  }

  // A link with anything changed is refused by the gateway: another object, a longer
  // validity, another signature.
  const std::string link = doc["products"][0]["output_image_urls"][0];
  std::vector<std::string> tampered = {link, link, link};
  tampered[0].replace(tampered[0].find("/0-0.jpg"), 8, "/1-0.jpg");
  tampered[1].replace(tampered[1].find("X-Amz-Expires=3600"), 18, "X-Amz-Expires=7200");
  auto& signature = tampered[2];
  const auto sig_at = signature.find("X-Amz-Signature=") + 16;
  signature[sig_at] = signature[sig_at] == '0' ? '1' : '0';
  for (const auto& bad : tampered) {
    const auto refused = HttpClient(ceph().endpoint()).get(bad);
    EXPECT_EQ(refused.status, 403) << bad << "\n" << refused.body;
    EXPECT_FALSE(is_jpeg(refused.body));
  }

  // The output CSV carries the same kind of link.
  const auto csv = node2.client().get("/requests/" + id + "/output.csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_NE(csv.body.find(ceph().endpoint() + "/" + bucket + "/shop/" + id + "/0-0.jpg?"),
            std::string::npos)
      << csv.body.substr(0, 500);

  // So does the webhook body, whichever process sent it.
  for (int i = 0; i < 600 && receiver.requests().empty(); ++i)  // up to 30 s
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(receiver.requests().size(), 1u) << deployment.logs();
  const auto notified = nlohmann::json::parse(receiver.requests()[0].body);
  const std::string notified_link = notified["products"][0]["output_image_urls"][0];
  EXPECT_EQ(notified_link.rfind(ceph().endpoint() + "/" + bucket + "/shop/" + id + "/0-0.jpg?", 0),
            0u)
      << notified_link;
  EXPECT_EQ(HttpClient(ceph().endpoint()).get(notified_link).status, 200);

  // Nothing was written anywhere but the database and the bucket.
  for (const auto& entry : fs::directory_iterator(deployment.folder())) {
    if (entry.is_directory()) {
      EXPECT_TRUE(fs::is_empty(entry.path())) << entry.path() << " is not empty";
    }
  }

  // Deleted through one node: gone from both at once, and its objects leave the bucket
  // (the deletion sweepers of the processes remove them; a link handed out stops working).
  const auto deleted = node2.client().request("DELETE", "/requests/" + id, "", {});
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(node1.client().get("/status?request_id=" + id).status, 404);
  std::vector<std::string> left = ceph().list_keys(bucket);
  for (int i = 0; i < 300 && !left.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    left = ceph().list_keys(bucket);
  }
  EXPECT_TRUE(left.empty()) << left.size() << " objects left\n" << deployment.logs();
  EXPECT_EQ(deployment.number("SELECT count(*) FROM blob_deletions"), 0);
  EXPECT_EQ(HttpClient(ceph().endpoint()).get(notified_link).status, 404);

  EXPECT_TRUE(survivor.running());
  EXPECT_TRUE(node1.process->running());
  EXPECT_TRUE(node2.process->running());
}

// What cannot work is said at start-up, exit code 2, before any image is claimed.
TEST_F(S3ScaleOut, AnUnusableBucketStopsTheProcessSayingWhy) {
  const std::string bucket = ceph().create_bucket();
  struct Case {
    std::vector<std::string> args;
    Environment env;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--storage", "s3://no-such-bucket-" + bucket, "--s3-endpoint", ceph().endpoint()},
       aws_credentials(),
       "does not exist"},
      {{"--storage", "s3://" + bucket, "--s3-endpoint", ceph().endpoint()},
       aws_credentials("not-the-secret"),
       "refused the credentials"},
      {{"--storage", "s3://" + bucket, "--s3-endpoint",
        "http://127.0.0.1:" + std::to_string(free_port())},
       aws_credentials(),
       "cannot reach"},
      {{"--storage", "s3://" + bucket, "--s3-endpoint", ceph().endpoint()},
       {{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}},
       "AWS_ACCESS_KEY_ID"},
  };
  for (const auto& c : cases) {
    TempDir folder;
    const std::string db = "sqlite:" + (folder.path() / "db.sqlite").string();
    // An image waiting in the queue: a process that claimed before its check would take it.
    core::NewRequest waiting;
    waiting.id = core::new_uuid();
    waiting.columns = {"S. No.", "Product Name", "Input Image Urls"};
    waiting.products = {{"1", "Shoe", {"http://127.0.0.1:9/shoe.jpg"}, {}}};
    waiting.created_at = core::now_ms();
    store::open_store(db)->create_request(waiting);

    std::vector<std::string> args = {"worker", "--db", db, "--s3-region", CephCluster::kRegion};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ChildProcess process(IMGBATCH_EXE, args, (folder.path() / "log").string(), c.env);
    EXPECT_EQ(process.wait(30s), 2) << process.log();
    const auto log = process.log();
    EXPECT_NE(log.find(c.says), std::string::npos) << log;
    EXPECT_EQ(log.find(CephCluster::kSecretKey), std::string::npos) << log;
    EXPECT_EQ(log.find("not-the-secret"), std::string::npos) << log;

    const auto products = store::open_store(db)->get_products(waiting.id, 0, 10);
    ASSERT_EQ(products.size(), 1u);
    EXPECT_EQ(products[0].images.at(0).state, core::TaskState::pending) << c.says;
    EXPECT_EQ(products[0].images.at(0).attempts, 0) << c.says;
  }
}

}  // namespace
}  // namespace imgbatch::test_support
