#include "webhook/sender.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <string>

#include "support/http_receiver.hpp"
#include "webhook/signature.hpp"

namespace imgbatch::webhook {
namespace {

using test_support::http_response;
using test_support::HttpReceiver;
using test_support::ReceivedRequest;

HeaderList signed_headers(const std::string& body) {
  auto h = sign_headers("test key", "msg_1", 1700000000, body);
  return {{std::string(SignatureHeaders::kId), h.id},
          {std::string(SignatureHeaders::kTimestamp), h.timestamp},
          {std::string(SignatureHeaders::kSignature), h.signature}};
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

TEST(Sender, DeliversBodyAndHeadersIntact) {
  HttpReceiver receiver(
      [](const ReceivedRequest&) { return http_response(200, "OK", {}, "thanks"); });
  // Large enough that curl would ask for "100-continue" if we let it; with bytes that
  // must survive unchanged (UTF-8, quotes, NUL-free JSON).
  std::string body =
      R"({"request_id":"r1","status":"completed","name":"Caf\u00e9 ☕ \"q\"","pad":")";
  body += std::string(1536 * 1024, 'p') + "\"}";
  auto result = send_webhook(receiver.url("/hook?tenant=7"), body, signed_headers(body));

  EXPECT_EQ(result.outcome, SendOutcome::delivered);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.response_body, "thanks");
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hook?tenant=7");
  EXPECT_EQ(req.body, body);
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("user-agent").rfind("imgbatch", 0), 0u) << req.header("user-agent");
  EXPECT_EQ(req.header("expect"), "");
  EXPECT_EQ(req.header("webhook-id"), "msg_1");
  EXPECT_EQ(req.header("webhook-timestamp"), "1700000000");
  EXPECT_EQ(verify("test key",
                   {req.header("webhook-id"), req.header("webhook-timestamp"),
                    req.header("webhook-signature")},
                   req.body, 1700000000),
            Verification::ok);
}

TEST(Sender, AnyTwoHundredIsDelivered) {
  HttpReceiver receiver([](const ReceivedRequest&) { return http_response(204, "No Content"); });
  auto result = send_webhook(receiver.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::delivered);
  EXPECT_EQ(result.http_status, 204);
}

TEST(Sender, ServerErrorIsRetried) {
  HttpReceiver receiver(
      [](const ReceivedRequest&) { return http_response(500, "Internal Server Error"); });
  auto result = send_webhook(receiver.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::retry);
  EXPECT_EQ(result.http_status, 500);
  EXPECT_NE(result.error.find("HTTP 500"), std::string::npos) << result.error;
  EXPECT_FALSE(result.retry_after.has_value());
}

TEST(Sender, GoneStopsDelivery) {
  HttpReceiver receiver([](const ReceivedRequest&) { return http_response(410, "Gone"); });
  auto result = send_webhook(receiver.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::stop);
  EXPECT_EQ(result.http_status, 410);
  EXPECT_NE(result.error.find("410"), std::string::npos);
}

TEST(Sender, RetryAfterInSecondsIsReported) {
  HttpReceiver receiver([](const ReceivedRequest&) {
    return http_response(503, "Service Unavailable", {"Retry-After: 120"});
  });
  auto result = send_webhook(receiver.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::retry);
  EXPECT_EQ(result.http_status, 503);
  EXPECT_EQ(result.retry_after, std::chrono::seconds(120));
}

TEST(Sender, RetryAfterAsHttpDateIsReported) {
  const std::string date = http_date(std::time(nullptr) + 3600);
  HttpReceiver receiver([&](const ReceivedRequest&) {
    return http_response(429, "Too Many Requests", {"Retry-After: " + date});
  });
  auto result = send_webhook(receiver.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::retry);
  EXPECT_EQ(result.http_status, 429);
  ASSERT_TRUE(result.retry_after.has_value()) << date;
  EXPECT_GT(result.retry_after->count(), 3500);
  EXPECT_LE(result.retry_after->count(), 3600);
}

TEST(Sender, RedirectIsNotFollowed) {
  HttpReceiver target([](const ReceivedRequest&) { return http_response(200, "OK"); });
  HttpReceiver mover([&](const ReceivedRequest&) {
    return http_response(302, "Found", {"Location: " + target.url("/elsewhere")});
  });
  auto result = send_webhook(mover.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::retry);
  EXPECT_EQ(result.http_status, 302);
  EXPECT_NE(result.error.find("redirect"), std::string::npos) << result.error;
  EXPECT_EQ(mover.requests().size(), 1u);
  EXPECT_EQ(target.requests().size(), 0u);
}

TEST(Sender, LongAnswerIsCutButTheStatusCounts) {
  HttpReceiver receiver([](const ReceivedRequest&) {
    return http_response(200, "OK", {}, std::string(2 * 1024 * 1024, 'x'));
  });
  auto result = send_webhook(receiver.url(), "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::delivered);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.response_body.size(), SendOptions{}.max_response_bytes);
}

TEST(Sender, RefusedConnectionIsRetriedWithoutStatus) {
  int port = 0;
  {
    HttpReceiver closed([](const ReceivedRequest&) { return std::string(); });
    port = closed.port();
  }
  auto result = send_webhook("http://127.0.0.1:" + std::to_string(port) + "/", "{}", {});
  EXPECT_EQ(result.outcome, SendOutcome::retry);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_NE(result.error.find("webhook delivery failed"), std::string::npos) << result.error;
}

TEST(Sender, SilentReceiverTimesOut) {
  HttpReceiver receiver([](const ReceivedRequest&) { return std::string(); });
  SendOptions options;
  options.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto result = send_webhook(receiver.url(), "{}", {}, options);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.outcome, SendOutcome::retry);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_NE(result.error.find("timed out"), std::string::npos) << result.error;
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(Sender, AddressGuardSeesTheAddressAndCanRefuseIt) {
  HttpReceiver receiver([](const ReceivedRequest&) { return http_response(200, "OK"); });
  std::atomic<int> seen_port{0};
  SendOptions allow;
  allow.allow_address = [&](const sockaddr* sa, socklen_t) {
    if (sa->sa_family == AF_INET)
      seen_port = ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
    return true;
  };
  EXPECT_EQ(send_webhook(receiver.url(), "{}", {}, allow).outcome, SendOutcome::delivered);
  EXPECT_EQ(seen_port.load(), receiver.port());

  SendOptions refuse;
  refuse.allow_address = [](const sockaddr*, socklen_t) { return false; };
  auto result = send_webhook(receiver.url(), "{}", {}, refuse);
  EXPECT_EQ(result.outcome, SendOutcome::stop);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_NE(result.error.find("blocked address 127.0.0.1"), std::string::npos) << result.error;
  EXPECT_EQ(receiver.requests().size(), 1u);
}

TEST(Sender, OnlyHttpAndHttpsUrlsAreTried) {
  for (const char* url :
       {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url"}) {
    auto result = send_webhook(url, "{}", {});
    EXPECT_EQ(result.outcome, SendOutcome::stop) << url << ": " << result.error;
    EXPECT_NE(result.error.find("invalid webhook URL"), std::string::npos) << result.error;
  }
}

TEST(Sender, HeaderWithLineBreakIsRefused) {
  HttpReceiver receiver([](const ReceivedRequest&) { return http_response(200, "OK"); });
  auto result = send_webhook(receiver.url(), "{}", {{"webhook-id", "x\r\nInjected: yes"}});
  EXPECT_EQ(result.outcome, SendOutcome::stop);
  EXPECT_TRUE(receiver.requests().empty());
}

}  // namespace
}  // namespace imgbatch::webhook
