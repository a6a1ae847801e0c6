// API keys and tenants through a real server on a loopback port, with a real SQLite file
// (docs/API.md, "Authentication" and "Tenants"). Keys are made as `imgbatch keys create`
// makes them (auth/tokens.hpp) and stored through the Store; a second server on the same
// file stands for a second API node.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/tokens.hpp"
#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/types.hpp"
#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "metrics/service_metrics.hpp"
#include "store/store.hpp"
#include "support/blob_options.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch {
namespace {

using test_support::FormField;
using test_support::Headers;
using test_support::HttpClient;
using test_support::HttpResponse;

const std::string kCsv =
    "S. No.,Product Name,Input Image Urls\n"
    "1,SKU1,https://img.example/a.jpg\n";

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// One server (an API node) on the test's database.
struct Node {
  Node(const core::Config& config, store::Store& store, blob::BlobStore& blob) {
    http::ServerOptions options;
    options.metrics = &metrics;
    server = std::make_unique<http::Server>(config, store, blob, std::move(options));
    server->start();
    client = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(server->port()));
  }
  metrics::Registry registry;
  metrics::ServiceMetrics metrics{registry};
  std::unique_ptr<http::Server> server;
  std::unique_ptr<HttpClient> client;
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.listen = "127.0.0.1:0";
    config_.public_url = "http://files.example";
    store_ = store::open_store(db_uri());
    blob_ = blob::open_blob_store("file:" + (dir_ / "images"), test_support::blob_options(false));
  }

  std::string db_uri() const { return "sqlite:" + (dir_ / "imgbatch.db"); }

  Node& start_node() {
    nodes_.push_back(std::make_unique<Node>(config_, *store_, *blob_));
    return *nodes_.back();
  }
  HttpClient& client() { return *nodes_.front()->client; }

  // Makes a key as `imgbatch keys create` does; returns its token.
  std::string make_key(store::Store& store, const std::string& name, bool admin = false) {
    const std::string token = auth::new_token();
    core::NewApiKey key;
    key.id = auth::new_key_id();
    key.name = name;
    key.token_hash = auth::token_hash(token);
    key.admin = admin;
    key.created_at = core::now_ms();
    EXPECT_TRUE(store.create_api_key(key));
    return token;
  }
  std::string make_key(const std::string& name, bool admin = false) {
    return make_key(*store_, name, admin);
  }

  HttpResponse upload(const Headers& headers) {
    return client().post_form("/upload", {{"file", kCsv, "products.csv", "text/csv"}}, headers);
  }
  std::string upload_ok(const Headers& headers) {
    const auto r = upload(headers);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.status == 202 ? r.json().value("request_id", "") : "";
  }

  test_support::TempDir dir_;
  core::Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blob_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

void expect_unauthorized(const HttpResponse& r, bool token_given, const std::string& what) {
  EXPECT_EQ(r.status, 401) << what << ": " << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json") << what;
  const auto challenge = r.header("www-authenticate").value_or("");
  EXPECT_EQ(challenge.rfind("Bearer realm=\"imgbatch\"", 0), 0u) << what << ": " << challenge;
  EXPECT_EQ(challenge.find("invalid_token") != std::string::npos, token_given)
      << what << ": " << challenge;
}

// Every API route, as a method and a path for an existing request id.
std::vector<std::pair<std::string, std::string>> api_routes(const std::string& id) {
  return {{"POST", "/upload"},
          {"GET", "/status?request_id=" + id},
          {"HEAD", "/status?request_id=" + id},
          {"GET", "/requests"},
          {"GET", "/requests/" + id + "/output.csv"},
          {"DELETE", "/requests/" + id}};
}

TEST_F(AuthTest, OpenWhileNoKeyWasEverCreated) {
  start_node();
  const std::string id = upload_ok({});
  EXPECT_EQ(client().get("/status?request_id=" + id).status, 200);
  EXPECT_EQ(client().get("/requests").json()["requests"].size(), 1u);
  EXPECT_EQ(client().get("/metrics").status, 200);
  // A stray token changes nothing while keys are not in force.
  EXPECT_EQ(upload(bearer("ib_not-a-key")).status, 202);
  EXPECT_FALSE(store_->get_request(id)->owner_key.has_value());
}

TEST_F(AuthTest, OnceAKeyExistsEveryApiRouteNeedsOne) {
  start_node();
  const std::string earlier = upload_ok({});  // before any key: open
  const std::string token = make_key("shop-a");
  for (const auto& [method, path] : api_routes(earlier)) {
    const std::string body = method == "POST" ? "x" : "";
    expect_unauthorized(client().request(method, path, body, {}), false, method + " " + path);
    expect_unauthorized(client().request(method, path, body, bearer("ib_wrong")), true,
                        method + " " + path + " with a wrong key");
    expect_unauthorized(client().request(method, path, body, {{"Authorization", "Basic " + token}}),
                        true, method + " " + path + " with another scheme");
  }
  const std::string id = upload_ok(bearer(token));
  EXPECT_EQ(client().get("/status?request_id=" + id, bearer(token)).status, 200);
  // The scheme's name is case-insensitive (RFC 9110).
  EXPECT_EQ(client().get("/requests", {{"Authorization", "bearer " + token}}).status, 200);
}

TEST_F(AuthTest, RequiredModeNeedsAKeyBeforeAnyExists) {
  config_.auth = "required";
  start_node();
  expect_unauthorized(upload({}), false, "upload");
  EXPECT_EQ(client().get("/health").status, 200);
}

TEST_F(AuthTest, OffModeIgnoresKeys) {
  make_key("shop-a");
  config_.auth = "off";
  start_node();
  const std::string id = upload_ok({});
  EXPECT_EQ(client().get("/status?request_id=" + id).status, 200);
  EXPECT_EQ(client().get("/metrics").status, 200);
}

TEST_F(AuthTest, RevokedKeyIsRefusedAtOnceByAnotherNode) {
  const std::string token = make_key("shop-a");
  Node& first = start_node();
  // A second node with a Store of its own on the same database, as another process.
  auto second_store = store::open_store(db_uri());
  Node second(config_, *second_store, *blob_);
  EXPECT_EQ(first.client->get("/requests", bearer(token)).status, 200);
  EXPECT_EQ(second.client->get("/requests", bearer(token)).status, 200);

  ASSERT_TRUE(store_->revoke_api_key("shop-a", core::now_ms()));  // through the first node's
  expect_unauthorized(second.client->get("/requests", bearer(token)), true, "second node");
  expect_unauthorized(first.client->get("/requests", bearer(token)), true, "first node");
  second.server->stop();
}

TEST_F(AuthTest, AnotherKeysRequestIsNotFoundOnEveryRouteThatTakesAnId) {
  start_node();
  const std::string a = make_key("shop-a");
  const std::string b = make_key("shop-b");
  const std::string admin = make_key("ops", true);
  const std::string of_a = upload_ok(bearer(a));
  const std::string of_b = upload_ok(bearer(b));
  // Let output.csv answer for an ended request, not 409.
  for (const auto& id : {of_a, of_b}) {
    const auto claimed = store_->claim_tasks("test", 10, core::now_ms(), 60'000);
    std::vector<core::TaskOutcome> outcomes;
    for (const auto& task : claimed) {
      core::TaskOutcome o;
      o.task_id = task.task_id;
      o.request_id = task.request_id;
      o.kind = core::TaskOutcome::Kind::failed;
      o.error = "test";
      o.owner = "test";
      outcomes.push_back(o);
    }
    store_->finish_tasks(outcomes, core::now_ms());
    ASSERT_EQ(store_->get_request(id)->status, core::RequestStatus::completed);
  }
  const std::string unknown = "123e4567-e89b-42d3-a456-426614174000";

  for (const auto& path : {std::string("/status?request_id="), std::string("/requests/")}) {
    const std::string suffix = path == "/requests/" ? "/output.csv" : "";
    const auto own = client().get(path + of_a + suffix, bearer(a));
    EXPECT_EQ(own.status, 200) << path << own.body;
    for (const char* method : {"GET", "HEAD"}) {
      const auto other = client().request(method, path + of_a + suffix, "", bearer(b));
      const auto missing = client().request(method, path + unknown + suffix, "", bearer(b));
      EXPECT_EQ(other.status, 404) << method << " " << path << other.body;
      EXPECT_EQ(missing.status, 404);
      // Exactly as for an id that does not exist: the same answer with the id swapped.
      std::string expected = missing.body;
      for (auto at = expected.find(unknown); at != std::string::npos;
           at = expected.find(unknown, at + of_a.size()))
        expected.replace(at, unknown.size(), of_a);
      EXPECT_EQ(other.body, expected);
      EXPECT_EQ(other.header("content-type"), missing.header("content-type"));
    }
    EXPECT_EQ(client().get(path + of_a + suffix, bearer(admin)).status, 200) << path;
    EXPECT_EQ(client().get(path + of_b + suffix, bearer(admin)).status, 200) << path;
  }

  const auto list_a = client().get("/requests", bearer(a)).json()["requests"];
  ASSERT_EQ(list_a.size(), 1u);
  EXPECT_EQ(list_a[0]["request_id"], of_a);
  const auto list_b = client().get("/requests", bearer(b)).json()["requests"];
  ASSERT_EQ(list_b.size(), 1u);
  EXPECT_EQ(list_b[0]["request_id"], of_b);
  EXPECT_EQ(client().get("/requests", bearer(admin)).json()["requests"].size(), 2u);

  // DELETE too: another key's request is "not found" and stays; its owner deletes it, and
  // an admin key deletes any.
  const auto other = client().request("DELETE", "/requests/" + of_a, "", bearer(b));
  const auto missing = client().request("DELETE", "/requests/" + unknown, "", bearer(b));
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(store_->get_request(of_a).has_value());
  EXPECT_EQ(client().request("DELETE", "/requests/" + of_a, "", bearer(a)).status, 204);
  EXPECT_EQ(client().request("DELETE", "/requests/" + of_b, "", bearer(admin)).status, 204);
  EXPECT_FALSE(store_->get_request(of_b).has_value());
}

TEST_F(AuthTest, ARequestFromBeforeKeysIsSeenByAdminKeysOnly) {
  start_node();
  const std::string earlier = upload_ok({});
  const std::string a = make_key("shop-a");
  const std::string admin = make_key("ops", true);
  EXPECT_EQ(client().get("/status?request_id=" + earlier, bearer(a)).status, 404);
  EXPECT_TRUE(client().get("/requests", bearer(a)).json()["requests"].empty());
  EXPECT_EQ(client().get("/status?request_id=" + earlier, bearer(admin)).status, 200);
}

TEST_F(AuthTest, IdempotencyKeyOfAnotherTenantNeitherReplaysNorConflicts) {
  start_node();
  const std::string a = make_key("shop-a");
  const std::string b = make_key("shop-b");
  Headers with_key_a = bearer(a);
  with_key_a.emplace_back("Idempotency-Key", "order-7");
  Headers with_key_b = bearer(b);
  with_key_b.emplace_back("Idempotency-Key", "order-7");
  const std::string of_a = upload_ok(with_key_a);
  const auto r = upload(with_key_b);
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.json().value("request_id", ""), of_a);
  EXPECT_FALSE(r.header("idempotent-replayed").has_value());
}

TEST_F(AuthTest, ExemptRoutesStayOpen) {
  const std::string token = make_key("shop-a");
  start_node();
  const std::string id = upload_ok(bearer(token));
  EXPECT_EQ(client().get("/health").status, 200);
  EXPECT_EQ(client().get("/openapi.yaml").status, 200);
  EXPECT_EQ(client().get("/").status, 200);
  EXPECT_EQ(client().get("/web/app.js").status, 200);
  EXPECT_EQ(client().get("/web/style.css").status, 200);
  // Images are capability URLs: the unguessable id in the path is the secret. Nothing is
  // stored yet, so 404 rather than 401.
  EXPECT_EQ(client().get("/images/" + id + "/0-0.jpg").status, 404);
  const auto webhook = client().post("/webhook", R"({"request_id":"x"})", "application/json");
  EXPECT_NE(webhook.status, 401) << webhook.body;
  EXPECT_LT(webhook.status, 300) << webhook.body;
}

TEST_F(AuthTest, WebhookEventsAreForAdminKeysOnceKeysAreInForce) {
  start_node();
  EXPECT_EQ(client().get("/webhook/events").status, 200);  // no key exists yet
  const std::string a = make_key("shop-a");
  const std::string admin = make_key("ops", true);
  expect_unauthorized(client().get("/webhook/events"), false, "no key");
  EXPECT_EQ(client().get("/webhook/events", bearer(a)).status, 403);
  EXPECT_EQ(client().get("/webhook/events", bearer(admin)).status, 200);
  // Receiving stays open: senders sign instead.
  EXPECT_LT(client().post("/webhook", R"({"request_id":"x"})", "application/json").status, 300);
}

TEST_F(AuthTest, MetricsNeedAnAdminKeyOrTheMetricsToken) {
  config_.metrics_token = "scraper-secret-1";
  start_node();
  // With a metrics token, /metrics is closed even before any key exists.
  expect_unauthorized(client().get("/metrics"), false, "no token");
  EXPECT_EQ(client().get("/metrics", bearer("scraper-secret-1")).status, 200);
  expect_unauthorized(client().get("/metrics", bearer("scraper-secret-2")), true, "wrong token");

  const std::string a = make_key("shop-a");
  const std::string admin = make_key("ops", true);
  const auto plain = client().get("/metrics", bearer(a));
  EXPECT_EQ(plain.status, 403) << plain.body;
  EXPECT_EQ(plain.header("content-type").value_or(""), "application/problem+json");
  EXPECT_EQ(client().get("/metrics", bearer(admin)).status, 200);
  EXPECT_EQ(client().get("/metrics", bearer("scraper-secret-1")).status, 200);
  // The metrics token opens nothing else.
  expect_unauthorized(client().get("/requests", bearer("scraper-secret-1")), true, "requests");
}

TEST_F(AuthTest, MetricsNeedAKeyOnceKeysAreInForceWithoutAMetricsToken) {
  make_key("shop-a");
  start_node();
  expect_unauthorized(client().get("/metrics"), false, "no key");
}

TEST_F(AuthTest, TokensAreRandomWithThePrefixAndHashesCompareInConstantTime) {
  const std::string one = auth::new_token();
  const std::string two = auth::new_token();
  EXPECT_EQ(one.rfind("ib_", 0), 0u);
  EXPECT_EQ(one.size(), 3u + 43u);  // 256 bits in base64url
  EXPECT_NE(one, two);
  EXPECT_EQ(auth::token_hash(one).size(), 64u);
  EXPECT_NE(auth::token_hash(one), auth::token_hash(two));
  EXPECT_TRUE(auth::same_hash(auth::token_hash(one), auth::token_hash(one)));
  EXPECT_FALSE(auth::same_hash(auth::token_hash(one), auth::token_hash(two)));
  EXPECT_FALSE(auth::same_hash(auth::token_hash(one), ""));
}

TEST(ListenAddress, LoopbackAddressesAreTold) {
  EXPECT_TRUE(http::listens_on_loopback("127.0.0.1:8080"));
  EXPECT_TRUE(http::listens_on_loopback("127.1.2.3:0"));
  EXPECT_TRUE(http::listens_on_loopback("localhost:8080"));
  EXPECT_TRUE(http::listens_on_loopback("[::1]:8080"));
  EXPECT_FALSE(http::listens_on_loopback("0.0.0.0:8080"));
  EXPECT_FALSE(http::listens_on_loopback("[::]:8080"));
  EXPECT_FALSE(http::listens_on_loopback("192.168.1.2:8080"));
  EXPECT_FALSE(http::listens_on_loopback("nonsense"));
}

// Quotas and rate limits (docs/API.md, "Quotas and rate limits").
class QuotaTest : public AuthTest {
 protected:
  // A key with limits, as `imgbatch keys create --images-per-day … --uploads-per-minute …`.
  std::string make_limited_key(const std::string& name, std::optional<std::int64_t> per_day,
                               std::optional<std::int64_t> per_minute) {
    const std::string token = auth::new_token();
    core::NewApiKey key;
    key.id = auth::new_key_id();
    key.name = name;
    key.token_hash = auth::token_hash(token);
    key.images_per_day = per_day;
    key.uploads_per_minute = per_minute;
    key.created_at = core::now_ms();
    EXPECT_TRUE(store_->create_api_key(key));
    return token;
  }
  HttpResponse upload_images(HttpClient& to, const Headers& headers, int images) {
    // One product whose image URLs are separated by white space.
    std::string csv = "S. No.,Product Name,Input Image Urls\n1,SKU1,";
    for (int i = 0; i < images; ++i)
      csv += (i ? " " : "") + std::string("https://img.example/") + std::to_string(i) + ".jpg";
    csv += "\n";
    return to.post_form("/upload", {{"file", csv, "products.csv", "text/csv"}}, headers);
  }
  std::size_t requests_of(const std::string& token) {
    const auto r = client().get("/requests", bearer(token));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["requests"].size();
  }
};

// The seconds of a Retry-After header (delay-seconds), or -1 when it is not one.
long long retry_after(const HttpResponse& r) {
  const auto value = r.header("retry-after");
  if (!value || value->empty() || value->find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(*value);
}

TEST_F(QuotaTest, ImagesPerDayRefuseAnUploadThatWouldPassThemWith429) {
  Node& node = start_node();
  const std::string token = make_limited_key("shop", 5, std::nullopt);
  Headers headers = bearer(token);
  headers.emplace_back("Idempotency-Key", "order-1");
  const auto first = upload_images(*node.client, headers, 3);
  ASSERT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(first.header("ratelimit-policy").value_or(""), "\"images-per-day\";q=5;w=86400");
  const auto state = first.header("ratelimit").value_or("");
  EXPECT_EQ(state.rfind("\"images-per-day\";r=2;t=", 0), 0u) << state;

  // A replay of the same upload is answered as before and not charged again.
  const auto replay = upload_images(*node.client, headers, 3);
  EXPECT_EQ(replay.status, 202) << replay.body;
  EXPECT_EQ(replay.header("idempotent-replayed").value_or(""), "true");

  const auto refused = upload_images(*node.client, bearer(token), 3);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("content-type").value_or(""), "application/problem+json");
  EXPECT_EQ(refused.json().value("images_left_today", -1), 2) << refused.body;
  EXPECT_EQ(refused.json().value("images_in_upload", -1), 3) << refused.body;
  EXPECT_NE(refused.json().value("detail", "").find("2 more images"), std::string::npos)
      << refused.body;
  // Until the UTC day ends.
  EXPECT_GE(retry_after(refused), 1);
  EXPECT_LE(retry_after(refused), 86'400);
  EXPECT_EQ(refused.header("ratelimit-policy").value_or(""), "\"images-per-day\";q=5;w=86400");
  EXPECT_EQ(refused.header("ratelimit").value_or("").rfind("\"images-per-day\";r=2;t=", 0), 0u);
  EXPECT_EQ(requests_of(token), 1u);  // nothing stored

  // What is left still fits.
  EXPECT_EQ(upload_images(*node.client, bearer(token), 2).status, 202);
  EXPECT_EQ(requests_of(token), 2u);
}

TEST_F(QuotaTest, UploadsPerMinuteRefuseTheUploadAfterTheBucketIsEmpty) {
  Node& node = start_node();
  // One upload a minute: the second within the minute is refused.
  const std::string token = make_limited_key("shop", std::nullopt, 1);
  const auto first = upload_images(*node.client, bearer(token), 1);
  ASSERT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(first.header("ratelimit-policy").value_or(""), "\"uploads-per-minute\";q=1;w=60");
  EXPECT_EQ(first.header("ratelimit").value_or("").rfind("\"uploads-per-minute\";r=0;t=", 0), 0u);

  const auto refused = upload_images(*node.client, bearer(token), 1);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.json().value("uploads_left", -1), 0) << refused.body;
  EXPECT_GE(retry_after(refused), 1);
  EXPECT_LE(retry_after(refused), 60);
  EXPECT_EQ(refused.header("ratelimit-policy").value_or(""), "\"uploads-per-minute\";q=1;w=60");
  EXPECT_EQ(refused.header("ratelimit").value_or(""),
            "\"uploads-per-minute\";r=0;t=" + std::to_string(retry_after(refused)));
  EXPECT_EQ(requests_of(token), 1u);
}

TEST_F(QuotaTest, TwoNodesShareAKeysQuota) {
  Node& one = start_node();
  Node& two = start_node();
  const std::string token = make_limited_key("shop", 4, 10);
  EXPECT_EQ(upload_images(*one.client, bearer(token), 3).status, 202);
  const auto refused = upload_images(*two.client, bearer(token), 2);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.json().value("images_left_today", -1), 1);
  // Both policies, in the order documented.
  EXPECT_EQ(refused.header("ratelimit-policy").value_or(""),
            "\"images-per-day\";q=4;w=86400, \"uploads-per-minute\";q=10;w=60");
  EXPECT_EQ(upload_images(*two.client, bearer(token), 1).status, 202);
}

TEST_F(QuotaTest, KeysWithoutLimitsAndTheNoKeyModeHaveNoRateLimitHeaders) {
  Node& node = start_node();
  const auto open = upload_images(*node.client, {}, 2);
  EXPECT_EQ(open.status, 202) << open.body;
  EXPECT_FALSE(open.header("ratelimit").has_value());
  EXPECT_FALSE(open.header("ratelimit-policy").has_value());
  const std::string token = make_key("unlimited");
  for (int i = 0; i < 3; ++i) {
    const auto r = upload_images(*node.client, bearer(token), 2);
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_FALSE(r.header("ratelimit").has_value());
  }
}

}  // namespace
}  // namespace imgbatch
