// The mapping from what curl saw to the user's message and the retry decision; the
// fetcher tests reach most of these over loopback, these cover what loopback cannot
// provoke (DNS failures, connect timeouts, TLS) and pin the exact wording.
#include <gtest/gtest.h>

#include "fetch/outcome.hpp"

using imgbatch::fetch::FetchLimits;
using imgbatch::fetch::FetchResult;
using imgbatch::fetch::impl::describe_outcome;
using imgbatch::fetch::impl::low_speed_window_seconds;
using imgbatch::fetch::impl::seconds_text;
using imgbatch::fetch::impl::TransferFacts;

namespace {

FetchResult outcome(const TransferFacts& facts, const FetchLimits& limits = {}) {
  FetchResult result;
  describe_outcome(facts, limits, result);
  return result;
}

TransferFacts failed(CURLcode code, std::string message = {}) {
  TransferFacts facts;
  facts.code = code;
  facts.curl_message = std::move(message);
  facts.url = "http://images.example.com/a.jpg";
  return facts;
}

TransferFacts http(long status) {
  TransferFacts facts;
  facts.http_status = status;
  return facts;
}

}  // namespace

TEST(Outcome, A2xxResponseReadToTheEndIsSuccess) {
  const auto r = outcome(http(200));
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.http_status, 200);
}

TEST(Outcome, HttpErrorsAreTransientOnlyFor408And429And5xx) {
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L}) {
    const auto r = outcome(http(status));
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.transient) << status;
    EXPECT_EQ(r.error, "download failed: HTTP " + std::to_string(status));
  }
  for (long status : {400L, 401L, 403L, 404L, 410L, 451L, 302L, 304L}) {
    const auto r = outcome(http(status));
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.transient) << status;
    EXPECT_EQ(r.error, "download failed: HTTP " + std::to_string(status));
  }
}

TEST(Outcome, AnAbandonedErrorBodyStillReportsTheStatus) {
  TransferFacts facts = http(404);
  facts.code = CURLE_WRITE_ERROR;
  facts.error_body_abandoned = true;
  EXPECT_EQ(outcome(facts).error, "download failed: HTTP 404");
}

TEST(Outcome, ResolveFailureNamesTheHostAndIsRetried) {
  const auto r = outcome(failed(CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: images.example.com"));
  EXPECT_EQ(r.error, "could not resolve host: images.example.com");
  EXPECT_TRUE(r.transient);
}

TEST(Outcome, TimeoutsSayWhichPhaseRanOutOfTime) {
  FetchLimits limits;
  limits.timeout_ms = 30'000;
  EXPECT_EQ(outcome(failed(CURLE_OPERATION_TIMEDOUT,
                           "Operation timed out after 30001 milliseconds with 5 out of 10 bytes received"),
                    limits).error,
            "download timed out after 30 s");
  EXPECT_EQ(outcome(failed(CURLE_OPERATION_TIMEDOUT, "Connection timed out after 10001 milliseconds"),
                    limits).error,
            "connection timed out after 10 s");
  EXPECT_EQ(outcome(failed(CURLE_OPERATION_TIMEDOUT,
                           "Operation too slow. Less than 1024 bytes/sec transferred the last 10 seconds"),
                    limits).error,
            "download too slow: less than 1 KB/s for 10 s");
  EXPECT_EQ(outcome(failed(CURLE_OPERATION_TIMEDOUT, "Resolving timed out after 10000 milliseconds"),
                    limits).error,
            "could not resolve host: images.example.com (timed out)");
  EXPECT_TRUE(outcome(failed(CURLE_OPERATION_TIMEDOUT), limits).transient);
}

TEST(Outcome, SizeAndPolicyRefusalsArePermanent) {
  TransferFacts big = http(200);
  big.code = CURLE_WRITE_ERROR;
  big.too_large = true;
  const auto r = outcome(big);
  EXPECT_EQ(r.error, "image too large: more than 33554432 bytes (--max-image-bytes)");
  EXPECT_FALSE(r.transient);

  TransferFacts blocked = failed(CURLE_COULDNT_CONNECT, "Failed to connect");
  blocked.blocked = "blocked address 10.0.0.1 (private)";
  const auto b = outcome(blocked);
  EXPECT_EQ(b.error,
            "blocked address 10.0.0.1 (private); private networks are not fetched unless "
            "--allow-private-networks");
  EXPECT_FALSE(b.transient);

  const auto redirects = outcome(failed(CURLE_TOO_MANY_REDIRECTS));
  EXPECT_EQ(redirects.error, "too many redirects (more than 5)");
  EXPECT_FALSE(redirects.transient);

  TransferFacts ftp = failed(CURLE_UNSUPPORTED_PROTOCOL);
  ftp.url = "ftp://files.example.com/a.jpg";
  EXPECT_EQ(outcome(ftp).error, "unsupported URL scheme \"ftp\": only http and https URLs are fetched");
  EXPECT_FALSE(outcome(ftp).transient);

  const auto tls = outcome(failed(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem"));
  EXPECT_FALSE(tls.transient);
  EXPECT_NE(tls.error.find("SSL certificate problem"), std::string::npos);
}

TEST(Outcome, ABlockedAddressExplainsOnlyAFailedConnect) {
  // Another address of the host answered, then the download failed for its own reason.
  TransferFacts facts = failed(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer");
  facts.blocked = "blocked address ::1 (loopback)";
  const auto r = outcome(facts);
  EXPECT_EQ(r.error, "connection failed: Recv failure: Connection reset by peer");
  EXPECT_TRUE(r.transient);
}

TEST(Outcome, CutShortSaysHowMuchArrived) {
  TransferFacts facts = http(200);
  facts.code = CURLE_PARTIAL_FILE;
  facts.content_length = 1000;
  facts.body_bytes = 400;
  const auto r = outcome(facts);
  EXPECT_EQ(r.error, "download cut short: got 400 of 1000 bytes");
  EXPECT_TRUE(r.transient);
}

TEST(Outcome, RetryAfterIsPassedOn) {
  TransferFacts facts = http(429);
  facts.retry_after_seconds = 30;
  EXPECT_EQ(outcome(facts).retry_after_seconds, 30);
}

TEST(Outcome, TheLowSpeedWindowShrinksWithAShortTimeout) {
  FetchLimits limits;
  EXPECT_EQ(low_speed_window_seconds(limits), 10);
  limits.timeout_ms = 6'000;
  EXPECT_EQ(low_speed_window_seconds(limits), 2);
  limits.timeout_ms = 500;
  EXPECT_EQ(low_speed_window_seconds(limits), 1);
  EXPECT_EQ(seconds_text(500), "0.5");
  EXPECT_EQ(seconds_text(30'000), "30");
}
