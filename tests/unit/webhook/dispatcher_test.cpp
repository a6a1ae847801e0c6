// The Dispatcher against a real SQLite store and a real receiver on loopback: requests are
// ended through the Store (so the delivery is created where production creates it), and
// the schedule is shrunk with retry_scale so a whole retry sequence takes milliseconds.
#include "webhook/dispatcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ids.hpp"
#include "store/store.hpp"
#include "support/http_receiver.hpp"
#include "support/sqlite_deliveries.hpp"
#include "support/temp_dir.hpp"
#include "webhook/signature.hpp"

namespace imgbatch::webhook {
namespace {

using namespace std::chrono_literals;
using test_support::http_response;
using test_support::HttpReceiver;
using test_support::ReceivedRequest;

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// Polls `done` until it holds or `timeout` passes; true if it held.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

std::string ok() { return http_response(200, "OK"); }

class DispatcherTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_.path() / "db.sqlite"; }
  std::string uri() const { return "sqlite:" + file().string(); }
  store::Store& store() { return *store_; }

  // Stores a request of one product with `images` images and returns its id.
  std::string create(const std::optional<std::string>& webhook_url, int images = 2) {
    core::NewRequest request;
    request.id = core::new_uuid();
    request.columns = {"S. No.", "Product Name", "Input Image Urls"};
    core::ProductInput product;
    product.serial_number = "1";
    product.product_name = "Shirt";
    std::string joined;
    for (int i = 0; i < images; ++i) {
      product.image_urls.push_back("https://images.example/" + std::to_string(i) + ".jpg");
      joined += (i ? "," : "") + product.image_urls.back();
    }
    product.fields = {"1", "Shirt", joined};
    request.products = {product};
    request.webhook_url = webhook_url;
    request.fingerprint = "fingerprint-" + request.id;
    request.created_at = core::now_ms();
    const auto outcome = store().create_request(request);
    EXPECT_EQ(outcome.kind, core::CreateOutcome::Kind::created);
    return request.id;
  }

  // Ends every open task (one of them failed) as a worker would; the request completes.
  void finish_all(const std::string& id) {
    const auto now = core::now_ms();
    const auto tasks = store().claim_tasks("worker", 100, now, 60'000);
    std::vector<core::TaskOutcome> outcomes;
    for (const auto& task : tasks) {
      core::TaskOutcome outcome;
      outcome.task_id = task.task_id;
      outcome.request_id = task.request_id;
      if (task.image_index == 0) {
        outcome.kind = core::TaskOutcome::Kind::failed;
        outcome.error = "HTTP 404 from the image host";
      } else {
        outcome.output_name = "0-" + std::to_string(task.image_index) + ".jpg";
      }
      outcomes.push_back(outcome);
    }
    EXPECT_EQ(store().finish_tasks(outcomes, now), std::vector<std::string>{id});
  }

  std::string completed_request(const std::optional<std::string>& webhook_url) {
    const auto id = create(webhook_url);
    finish_all(id);
    return id;
  }

  core::Delivery only_delivery(const std::string& id) {
    const auto deliveries = test_support::sqlite_deliveries(file(), id);
    EXPECT_EQ(deliveries.size(), 1u);
    return deliveries.empty() ? core::Delivery{} : deliveries.front();
  }

  bool delivered(const std::string& id) {
    const auto deliveries = test_support::sqlite_deliveries(file(), id);
    return deliveries.size() == 1 && deliveries[0].delivered_at.has_value();
  }

  static DispatcherOptions options(std::optional<std::string> secret = std::nullopt,
                                   double retry_scale = 0.001) {
    DispatcherOptions o;
    o.secret = std::move(secret);
    o.public_url = "http://127.0.0.1:9";
    o.allow_private_networks = true;  // the receiver is on loopback
    o.retry_scale = retry_scale;      // 5 s -> 5 ms, 5 min -> 300 ms
    o.idle_poll = 20ms;
    o.timeout = 5s;
    return o;
  }

  test_support::TempDir dir_;
  std::unique_ptr<store::Store> store_ = store::open_store(uri());
};

TEST_F(DispatcherTest, FailsTwiceThenDeliversOnceWithTheSameIdEveryTime) {
  std::atomic<int> seen{0};
  HttpReceiver receiver([&seen](const ReceivedRequest&) {
    return ++seen <= 2 ? http_response(500, "Internal Server Error") : ok();
  });
  const auto id = completed_request(receiver.url("/hooks/imgbatch"));
  const auto queued = only_delivery(id);
  EXPECT_EQ(queued.attempts, 0);
  EXPECT_EQ(queued.webhook_id.rfind("msg_", 0), 0u) << queued.webhook_id;

  Dispatcher dispatcher(options(kSecret), store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return delivered(id); }));
  std::this_thread::sleep_for(400ms);  // a fourth attempt would come within this
  dispatcher.stop();

  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  const auto key = parse_secret(kSecret).value();
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hooks/imgbatch");
    EXPECT_EQ(r.header("webhook-id"), queued.webhook_id);
    EXPECT_EQ(verify(key,
                     {r.header("webhook-id"), r.header("webhook-timestamp"),
                      r.header("webhook-signature")},
                     r.body, core::now_ms() / 1000),
              Verification::ok);
    EXPECT_EQ(r.body, requests[0].body);  // the same notification each time
  }
  const auto d = only_delivery(id);
  EXPECT_EQ(d.attempts, 3);
  ASSERT_TRUE(d.delivered_at.has_value());
  EXPECT_GE(*d.delivered_at, queued.created_at);
  EXPECT_EQ(d.last_status, 200);
  EXPECT_EQ(d.webhook_id, queued.webhook_id);
}

TEST_F(DispatcherTest, BodyIsTheFinalStatusDocumentSignedWithTheSecret) {
  HttpReceiver receiver([](const ReceivedRequest&) { return ok(); });
  const auto id = completed_request(receiver.url());
  Dispatcher dispatcher(options(kSecret), store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return delivered(id); }));
  dispatcher.stop();

  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.header("content-type"), "application/json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["request_id"], id);
  EXPECT_EQ(body["status"], "completed");
  EXPECT_EQ(body["progress"]["succeeded"], 1);
  EXPECT_EQ(body["progress"]["failed"], 1);
  ASSERT_EQ(body["products"].size(), 1u);
  EXPECT_EQ(body["products"][0]["output_image_urls"][1],
            "http://127.0.0.1:9/images/" + id + "/0-1.jpg");

  const auto key = parse_secret(kSecret).value();
  const std::string id_header = r.header("webhook-id");
  const std::string timestamp_header = r.header("webhook-timestamp");
  const std::string signature_header = r.header("webhook-signature");
  const ReceivedHeaders headers{id_header, timestamp_header, signature_header};
  const auto now = core::now_ms() / 1000;
  EXPECT_EQ(id_header, only_delivery(id).webhook_id);
  EXPECT_EQ(signature_header.rfind("v1,", 0), 0u);
  EXPECT_LE(std::abs(std::stoll(timestamp_header) - now), 5);
  EXPECT_EQ(verify(key, headers, r.body, now), Verification::ok);
  // The signature covers the body: one changed byte and it no longer verifies.
  std::string altered = r.body;
  altered[altered.find("completed")] = 'C';
  EXPECT_EQ(verify(key, headers, altered, now), Verification::no_matching_signature);
  EXPECT_EQ(verify(parse_secret("whsec_c2VjcmV0IGtleSBvZiBzb21lb25lIGVsc2U=").value(), headers,
                   r.body, now),
            Verification::no_matching_signature);
}

TEST_F(DispatcherTest, WithoutASecretNotificationsAreUnsigned) {
  HttpReceiver receiver([](const ReceivedRequest&) { return ok(); });
  const auto id = completed_request(receiver.url());
  Dispatcher dispatcher(options(std::nullopt), store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return delivered(id); }));
  dispatcher.stop();

  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers.count("webhook-signature"), 0u);
  EXPECT_EQ(requests[0].header("webhook-id"), only_delivery(id).webhook_id);
  EXPECT_FALSE(requests[0].header("webhook-timestamp").empty());
  EXPECT_EQ(nlohmann::json::parse(requests[0].body)["request_id"], id);
}

TEST_F(DispatcherTest, InvalidSecretIsRefusedAtConstruction) {
  EXPECT_THROW(Dispatcher(options("whsec_not base64!"), store()), std::invalid_argument);
}

TEST_F(DispatcherTest, GoneStopsAfterOneAttempt) {
  HttpReceiver receiver([](const ReceivedRequest&) { return http_response(410, "Gone"); });
  const auto id = completed_request(receiver.url());
  Dispatcher dispatcher(options(), store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return only_delivery(id).attempts == 1; }));
  std::this_thread::sleep_for(400ms);  // retries (5 ms, then 300 ms) would have come
  dispatcher.stop();

  EXPECT_EQ(receiver.requests().size(), 1u);
  const auto d = only_delivery(id);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_FALSE(d.delivered_at.has_value());
  EXPECT_EQ(d.last_status, 410);
  ASSERT_TRUE(d.last_error.has_value());
  EXPECT_NE(d.last_error->find("410"), std::string::npos) << *d.last_error;
  // Given up: not claimable, however late.
  EXPECT_TRUE(
      store().claim_deliveries(core::now_ms() + 365LL * 24 * 3600 * 1000, 10, 1000).empty());
}

// The SSRF guard: without allow_private_networks a URL on loopback is never connected to,
// and retrying cannot help, so the notification is given up at once.
TEST_F(DispatcherTest, PrivateAddressesAreRefusedUnlessAllowed) {
  HttpReceiver receiver([](const ReceivedRequest&) { return ok(); });
  const auto id = completed_request(receiver.url());
  auto guarded = options();
  guarded.allow_private_networks = false;
  Dispatcher dispatcher(guarded, store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return only_delivery(id).attempts == 1; }));
  std::this_thread::sleep_for(100ms);
  dispatcher.stop();

  EXPECT_TRUE(receiver.requests().empty());
  const auto d = only_delivery(id);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_FALSE(d.delivered_at.has_value());
  ASSERT_TRUE(d.last_error.has_value());
  EXPECT_NE(d.last_error->find("blocked address 127.0.0.1"), std::string::npos) << *d.last_error;
  EXPECT_TRUE(
      store().claim_deliveries(core::now_ms() + 365LL * 24 * 3600 * 1000, 10, 1000).empty());
}

// A receiver that never answers costs one attempt of `timeout`, then the schedule goes on.
// The timeout is a second, not less: the attempt that is answered must be answered within
// it on a loaded machine too, or it would count as a second timeout.
TEST_F(DispatcherTest, AnAttemptEndsAtTheTimeout) {
  std::atomic<int> seen{0};
  HttpReceiver receiver([&seen](const ReceivedRequest&) { return ++seen == 1 ? "" : ok(); });
  const auto id = completed_request(receiver.url());
  auto impatient = options();
  impatient.timeout = 1s;
  Dispatcher dispatcher(impatient, store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return delivered(id); }));
  dispatcher.stop();

  EXPECT_EQ(receiver.requests().size(), 2u);
  const auto d = only_delivery(id);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.last_status, 200);
}

TEST_F(DispatcherTest, RetryAfterOn503PostponesTheNextAttempt) {
  std::atomic<int> seen{0};
  HttpReceiver receiver([&seen](const ReceivedRequest&) {
    return ++seen == 1 ? http_response(503, "Service Unavailable", {"Retry-After: 1"}) : ok();
  });
  const auto id = completed_request(receiver.url());
  Dispatcher dispatcher(options(), store());
  const auto before = core::now_ms();
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return only_delivery(id).attempts >= 1; }));
  const auto after_first = only_delivery(id);
  // The schedule alone says 5 ms; the receiver asked for a second.
  ASSERT_FALSE(after_first.delivered_at.has_value());
  EXPECT_EQ(after_first.last_status, 503);
  EXPECT_GE(after_first.next_attempt_at, before + 1000);
  ASSERT_TRUE(eventually([&] { return delivered(id); }));
  dispatcher.stop();
  EXPECT_EQ(receiver.requests().size(), 2u);
  EXPECT_GE(only_delivery(id).delivered_at.value_or(0), before + 1000);
}

TEST_F(DispatcherTest, NothingIsSentForARequestWithoutWebhookUrl) {
  HttpReceiver receiver([](const ReceivedRequest&) { return ok(); });
  const auto silent = completed_request(std::nullopt);
  EXPECT_TRUE(test_support::sqlite_deliveries(file(), silent).empty());
  const auto loud = completed_request(receiver.url());

  Dispatcher dispatcher(options(), store());
  dispatcher.start();
  ASSERT_TRUE(eventually([&] { return delivered(loud); }));
  std::this_thread::sleep_for(200ms);
  dispatcher.stop();

  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);  // the dispatcher ran, and sent only the one
  EXPECT_EQ(nlohmann::json::parse(requests[0].body)["request_id"], loud);
}

// Two dispatchers, each on its own connection to one database, as two processes would be:
// every notification is sent by one of them, once.
TEST_F(DispatcherTest, TwoDispatchersNeverSendTheSameDelivery) {
  std::mutex mu;
  std::map<std::string, int> posts_per_id;
  HttpReceiver receiver([&](const ReceivedRequest& r) {
    {
      std::lock_guard lock(mu);
      ++posts_per_id[r.header("webhook-id")];
    }
    std::this_thread::sleep_for(20ms);  // keeps the other senders busy claiming meanwhile
    return ok();
  });
  constexpr int kRequests = 8;
  std::vector<std::string> ids;
  for (int i = 0; i < kRequests; ++i) ids.push_back(completed_request(receiver.url()));

  auto other_store = store::open_store(uri());
  auto first_options = options(kSecret);
  first_options.senders = 3;
  Dispatcher first(first_options, store());
  Dispatcher second(first_options, *other_store);
  first.start();
  second.start();
  ASSERT_TRUE(eventually([&] {
    for (const auto& id : ids)
      if (!delivered(id)) return false;
    return true;
  }));
  std::this_thread::sleep_for(200ms);
  first.stop();
  second.stop();

  EXPECT_EQ(receiver.requests().size(), static_cast<std::size_t>(kRequests));
  std::lock_guard lock(mu);
  EXPECT_EQ(posts_per_id.size(), static_cast<std::size_t>(kRequests));
  for (const auto& id : ids) {
    const auto d = only_delivery(id);
    EXPECT_EQ(d.attempts, 1) << id;
    EXPECT_EQ(posts_per_id[d.webhook_id], 1) << d.webhook_id;
  }
}

// The schedule lives in the store: a dispatcher stopped between two attempts (a restart,
// a deploy) leaves the delivery for the next one, which sends it with the same id.
TEST_F(DispatcherTest, ANewDispatcherPicksUpWhereAStoppedOneLeftOff) {
  std::atomic<int> seen{0};
  HttpReceiver receiver([&seen](const ReceivedRequest&) {
    return ++seen == 1 ? http_response(502, "Bad Gateway") : ok();
  });
  const auto id = completed_request(receiver.url());
  {
    // The schedule unscaled: the second attempt is due 5 s after the first, long after
    // the stop even on a loaded machine (scaled to 500 ms, a test thread held up between
    // seeing the first attempt and stopping let this dispatcher send the second itself).
    Dispatcher dispatcher(options(kSecret, 1.0), store());
    dispatcher.start();
    ASSERT_TRUE(eventually([&] { return only_delivery(id).attempts == 1; }));
    dispatcher.stop();
  }
  const auto paused = only_delivery(id);
  EXPECT_EQ(paused.attempts, 1);
  EXPECT_FALSE(paused.delivered_at.has_value());
  EXPECT_EQ(paused.last_status, 502);
  EXPECT_GT(paused.next_attempt_at, 0);
  ASSERT_EQ(receiver.requests().size(), 1u);

  auto restarted_store = store::open_store(uri());
  Dispatcher next(options(kSecret, 1.0), *restarted_store);
  next.start();
  ASSERT_TRUE(eventually([&] { return delivered(id); }, 30s));
  next.stop();

  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].header("webhook-id"), paused.webhook_id);
  EXPECT_EQ(requests[1].header("webhook-id"), paused.webhook_id);
  const auto d = only_delivery(id);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.last_status, 200);
  EXPECT_GE(d.delivered_at.value_or(0), paused.next_attempt_at);
}

}  // namespace
}  // namespace imgbatch::webhook
