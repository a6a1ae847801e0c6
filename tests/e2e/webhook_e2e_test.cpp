// Webhooks end to end through the real binary: notifications checked by the reference
// Standard Webhooks implementation (npm `standardwebhooks`, in a Node receiver that the
// ctest fixture `webhook_node_setup` installs), retries with one webhook-id, the per-upload
// URL overriding --webhook-url, a kill -9 between completion and delivery, and the 401s
// of imgbatch's own POST /webhook. The retry schedule is shrunk with
// IMGBATCH_WEBHOOK_RETRY_BASE=0.01 (attempts at 0, 10 ms, 600 ms, 3.6 s, …).
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/types.hpp"
#include "store/store.hpp"
#include "support/http_receiver.hpp"
#include "support/running_server.hpp"
#include "support/sqlite_deliveries.hpp"
#include "support/test_origin.hpp"
#include "webhook/signature.hpp"

namespace imgbatch::test_support {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const Environment kFastRetries = {{"IMGBATCH_WEBHOOK_RETRY_BASE", "0.01"}};

std::string key() { return webhook::parse_secret(kSecret).value(); }
std::int64_t now_seconds() { return core::now_ms() / 1000; }

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// `node receiver.js PORT SECRET FAIL_FIRST` from the folder the fixture installed.
class NodeReceiver {
 public:
  explicit NodeReceiver(int fail_first = 0, int port = free_port()) : port_(port) {
    const std::filesystem::path dir = IMGBATCH_WEBHOOK_NODE_DIR;
    if (!std::filesystem::exists(dir / "node_modules" / "standardwebhooks")) {
      ADD_FAILURE() << "standardwebhooks is not installed in " << dir
                    << ": run these tests through ctest, whose fixture webhook_node_setup runs "
                       "npm ci there (ctest -R webhook)";
      return;
    }
    process_ = std::make_unique<ChildProcess>(
        IMGBATCH_NODE,
        std::vector<std::string>{(dir / "receiver.js").string(), std::to_string(port_), kSecret,
                                 std::to_string(fail_first)},
        (folder_.path() / "node.log").string());
    if (!process_->wait_for_port(port_, 20s))
      ADD_FAILURE() << "the Node receiver did not start; its log:\n" << process_->log();
  }

  bool started() const { return process_ != nullptr; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  HttpClient client() const { return HttpClient("http://127.0.0.1:" + std::to_string(port_)); }
  // What it received, oldest first, each with the library's verdict.
  nlohmann::json received() const {
    const auto r = client().get("/received");
    return r.status == 200 ? r.json() : nlohmann::json::array();
  }
  // `body` signed by the library.
  std::string sign(const std::string& id, std::int64_t timestamp, const std::string& body) const {
    const auto r = client().post("/sign?id=" + id + "&timestamp=" + std::to_string(timestamp), body,
                                 "application/json");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  TempDir folder_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

std::string photo_csv(const TestOrigin& origin, const std::string& tag) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return "S. No.,Product Name,Input Image Urls\n1,Shirt," + origin.url("/photos/" + names.at(0)) +
         "?" + tag + "\n2,Shoe,\"" + origin.url("/photos/" + names.at(1)) + "?" + tag + "," +
         origin.url("/status/404") + "\"\n";
}

std::string upload(const RunningServer& server, const std::string& csv,
                   const std::optional<std::string>& webhook_url) {
  std::vector<FormField> fields = {{"file", csv, "products.csv", "text/csv"}};
  if (webhook_url) fields.push_back({"webhook_url", *webhook_url, std::nullopt, ""});
  const auto r = server.client().post_form("/upload", fields);
  EXPECT_EQ(r.status, 202) << r.body;
  return r.status == 202 ? r.json()["request_id"].get<std::string>() : "";
}

std::vector<core::Delivery> deliveries_in(const std::filesystem::path& folder,
                                          const std::string& request_id) {
  return test_support::sqlite_deliveries(folder / "db.sqlite", request_id);
}

Headers signed_headers(const std::string& signing_key, const std::string& id,
                       std::int64_t timestamp, const std::string& body) {
  const auto h = webhook::sign_headers(signing_key, id, timestamp, body);
  return {
      {"webhook-id", h.id}, {"webhook-timestamp", h.timestamp}, {"webhook-signature", h.signature}};
}

class WebhookE2E : public ::testing::Test {};

// Issue items 1, 3, 4 and 6: the upload's webhook_url wins over --webhook-url; a receiver
// that fails twice gets three attempts with one id, each verified by the reference library,
// and one success; an upload without webhook_url goes to --webhook-url.
TEST_F(WebhookE2E, PerUploadUrlWinsAndTheReferenceLibraryVerifiesEveryAttempt) {
  TestOrigin origin;
  NodeReceiver node(/*fail_first=*/2);
  ASSERT_TRUE(node.started());
  HttpReceiver fallback([](const ReceivedRequest&) { return http_response(204, "No Content"); });
  RunningServer server({"--webhook-url", fallback.url("/default"), "--webhook-secret", kSecret},
                       nullptr, kFastRetries);

  const std::string id = upload(server, photo_csv(origin, "a"), node.url("/hooks/imgbatch"));
  ASSERT_FALSE(id.empty());
  const auto doc = server.wait_until_ended(id);
  ASSERT_EQ(doc["status"], "completed") << doc.dump(2);

  ASSERT_TRUE(eventually([&] { return node.received().size() >= 3; }, 20s))
      << node.received().dump(2) << "\nimgbatch log:\n"
      << server.process().log();
  std::this_thread::sleep_for(1500ms);  // a fourth attempt (after 3.6 s scaled) must not come
  const auto received = node.received();
  ASSERT_EQ(received.size(), 3u) << received.dump(2);
  const std::string webhook_id = received[0]["id"];
  EXPECT_EQ(webhook_id.rfind("msg_", 0), 0u) << webhook_id;
  for (std::size_t i = 0; i < received.size(); ++i) {
    const auto& event = received[i];
    EXPECT_TRUE(event["verified"].get<bool>())
        << "standardwebhooks refused attempt " << i + 1 << ": " << event["error"];
    EXPECT_EQ(event["id"], webhook_id);
    EXPECT_EQ(event["path"], "/hooks/imgbatch");
    EXPECT_EQ(event["answered"], i < 2 ? 500 : 200);
    const auto body = nlohmann::json::parse(event["body"].get<std::string>());
    EXPECT_EQ(body["request_id"], id);
    EXPECT_EQ(body["status"], "completed");
    EXPECT_EQ(body["progress"], doc["progress"]);
    EXPECT_EQ(body["products"], doc["products"]);
  }
  EXPECT_TRUE(fallback.requests().empty()) << "--webhook-url was notified despite the override";

  // Without webhook_url the notification goes to --webhook-url, signed the same way.
  const std::string plain = upload(server, photo_csv(origin, "b"), std::nullopt);
  ASSERT_EQ(server.wait_until_ended(plain)["status"], "completed");
  ASSERT_TRUE(eventually([&] { return !fallback.requests().empty(); }, 20s))
      << server.process().log();
  const auto sent = fallback.requests().at(0);
  EXPECT_EQ(sent.target, "/default");
  EXPECT_NE(sent.header("webhook-id"), webhook_id);
  EXPECT_EQ(webhook::verify(key(),
                            {sent.header("webhook-id"), sent.header("webhook-timestamp"),
                             sent.header("webhook-signature")},
                            sent.body, now_seconds()),
            webhook::Verification::ok);
  EXPECT_EQ(nlohmann::json::parse(sent.body)["request_id"], plain);
  EXPECT_EQ(node.received().size(), 3u);

  server.process().signal(SIGTERM);
  ASSERT_EQ(server.process().wait(20s), 0) << server.process().log();
  const auto deliveries = deliveries_in(server.folder(), id);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].webhook_id, webhook_id);
  EXPECT_EQ(deliveries[0].url, node.url("/hooks/imgbatch"));
  EXPECT_EQ(deliveries[0].attempts, 3);
  EXPECT_EQ(deliveries[0].last_status, 200);
  EXPECT_TRUE(deliveries[0].delivered_at.has_value());
}

// Issue items 2 and 6: the receiver is down when the request completes, imgbatch is killed
// with SIGKILL before it could deliver, the receiver comes up, imgbatch restarts on the same
// database: the notification arrives once, with the id of the failed attempts.
TEST_F(WebhookE2E, ANotificationCutOffByKill9IsDeliveredOnceAfterRestart) {
  TestOrigin origin;
  const int receiver_port = free_port();  // nothing listens yet: connection refused
  const std::string hook = "http://127.0.0.1:" + std::to_string(receiver_port) + "/hook";
  RunningServer first({"--webhook-secret", kSecret}, nullptr, kFastRetries);
  const std::string id = upload(first, photo_csv(origin, "k"), hook);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(first.wait_until_ended(id)["status"], "completed");

  // The dispatcher logs each failed attempt with the notification's webhook-id.
  const std::regex failed_line("webhook (msg_[0-9a-f-]+) to " + hook + " failed \\(attempt 1\\)");
  std::smatch match;
  std::string log;
  ASSERT_TRUE(eventually(
      [&] {
        log = first.process().log();
        return std::regex_search(log, match, failed_line);
      },
      20s))
      << log;
  const std::string webhook_id = match[1];
  first.process().signal(SIGKILL);
  ASSERT_EQ(first.process().wait(10s), 128 + SIGKILL);

  const auto before = deliveries_in(first.folder(), id);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].webhook_id, webhook_id);
  EXPECT_GE(before[0].attempts, 1);
  EXPECT_FALSE(before[0].delivered_at.has_value());
  EXPECT_TRUE(before[0].last_error.has_value());

  NodeReceiver node(0, receiver_port);
  ASSERT_TRUE(node.started());
  RunningServer second({"--webhook-secret", kSecret}, &first.folder(), kFastRetries);
  // Usually within a few seconds; up to the 60 s delivery lease if the kill landed in the
  // middle of an attempt.
  ASSERT_TRUE(eventually([&] { return !node.received().empty(); }, 90s)) << second.process().log();
  std::this_thread::sleep_for(1500ms);  // a duplicate would show now
  const auto received = node.received();
  ASSERT_EQ(received.size(), 1u) << received.dump(2);
  EXPECT_EQ(received[0]["id"], webhook_id);
  EXPECT_TRUE(received[0]["verified"].get<bool>()) << received[0]["error"];
  EXPECT_EQ(nlohmann::json::parse(received[0]["body"].get<std::string>())["request_id"], id);

  second.process().signal(SIGTERM);
  ASSERT_EQ(second.process().wait(20s), 0) << second.process().log();
  const auto after = deliveries_in(first.folder(), id);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].webhook_id, webhook_id);
  EXPECT_EQ(after[0].attempts, before[0].attempts + 1);
  EXPECT_EQ(after[0].last_status, 200);
  EXPECT_TRUE(after[0].delivered_at.has_value());
}

void expect_unauthorized(const HttpResponse& r, const std::string& reason) {
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  const auto problem = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(problem.is_object()) << r.body;
  EXPECT_EQ(problem["status"], 401);
  EXPECT_NE(problem["detail"].get<std::string>().find(reason), std::string::npos)
      << "expected \"" << reason << "\" in " << problem["detail"];
}

// Issue items 5 and 6: with --webhook-secret, POST /webhook takes what is signed (by our
// code or the reference library) and fresh, and refuses the rest with 401 problem+json.
TEST_F(WebhookE2E, ReceiverTakesSignedFreshNotificationsAndRefusesTheRest) {
  NodeReceiver node;
  ASSERT_TRUE(node.started());
  RunningServer server({"--webhook-secret", kSecret});
  auto client = server.client();
  const std::string body = R"({"request_id":"r-1","status":"completed"})";
  const auto post = [&](const Headers& headers, const std::string& payload) {
    return client.post("/webhook", payload, "application/json", headers);
  };

  const auto now = now_seconds();
  const auto valid = signed_headers(key(), "msg_e2e_1", now, body);
  const auto accepted = post(valid, body);
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(accepted.json(), nlohmann::json({{"message", "Webhook received successfully."}}));

  expect_unauthorized(post(valid, body), "already received");  // replayed
  const auto other_key =
      webhook::parse_secret("whsec_c2VjcmV0IGtleSBvZiBzb21lb25lIGVsc2U=").value();
  expect_unauthorized(post(signed_headers(other_key, "msg_e2e_2", now, body), body),
                      "no matching signature");
  expect_unauthorized(post(signed_headers(key(), "msg_e2e_3", now, body), body + " "),
                      "no matching signature");  // body altered after signing
  expect_unauthorized(post(signed_headers(key(), "msg_e2e_4", now - 600, body), body), "too old");
  expect_unauthorized(post(signed_headers(key(), "msg_e2e_5", now + 600, body), body), "future");
  expect_unauthorized(post({}, body), "missing");
  expect_unauthorized(
      post({{"webhook-id", "msg_e2e_6"}, {"webhook-timestamp", std::to_string(now)}}, body),
      "missing");

  // Signed by the reference library: accepted too.
  const std::string node_signature = node.sign("msg_node_1", now, body);
  EXPECT_EQ(node_signature, webhook::sign(key(), "msg_node_1", now, body));  // both agree
  const auto from_node = post({{"webhook-id", "msg_node_1"},
                               {"webhook-timestamp", std::to_string(now)},
                               {"webhook-signature", node_signature}},
                              body);
  EXPECT_EQ(from_node.status, 200) << from_node.body;

  // One good signature among several (a key being rotated) is enough.
  const auto rotated = webhook::sign_headers(key(), "msg_e2e_7", now, body);
  const auto with_old_key =
      post({{"webhook-id", rotated.id},
            {"webhook-timestamp", rotated.timestamp},
            {"webhook-signature",
             webhook::sign(other_key, rotated.id, now, body) + " " + rotated.signature}},
           body);
  EXPECT_EQ(with_old_key.status, 200) << with_old_key.body;

  // Only what was accepted is listed, newest first.
  const auto events = client.get("/webhook/events").json()["events"];
  ASSERT_EQ(events.size(), 3u) << events.dump(2);
  EXPECT_EQ(events[0]["id"], "msg_e2e_7");
  EXPECT_EQ(events[1]["id"], "msg_node_1");
  EXPECT_EQ(events[2]["id"], "msg_e2e_1");
  EXPECT_EQ(events[2]["body"], nlohmann::json::parse(body));
}

// imgbatch notifying its own receiver with the same secret: what the dispatcher sends is
// what the receiver takes.
TEST_F(WebhookE2E, OwnNotificationsPassOwnReceiver) {
  TestOrigin origin;
  RunningServer server({"--webhook-secret", kSecret}, nullptr, kFastRetries);
  const std::string id = upload(server, photo_csv(origin, "own"), server.base_url() + "/webhook");
  ASSERT_EQ(server.wait_until_ended(id)["status"], "completed");
  auto client = server.client();
  nlohmann::json events;
  ASSERT_TRUE(eventually(
      [&] {
        events = client.get("/webhook/events").json()["events"];
        return !events.empty();
      },
      20s))
      << server.process().log();
  std::this_thread::sleep_for(700ms);
  events = client.get("/webhook/events").json()["events"];
  ASSERT_EQ(events.size(), 1u) << events.dump(2);
  EXPECT_EQ(events[0]["body"]["request_id"], id);
  EXPECT_EQ(events[0]["id"].get<std::string>().rfind("msg_", 0), 0u);
  server.process().signal(SIGTERM);
  ASSERT_EQ(server.process().wait(20s), 0);
  const auto deliveries = deliveries_in(server.folder(), id);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].attempts, 1);  // accepted at the first try: the signature held
}

}  // namespace
}  // namespace imgbatch::test_support
