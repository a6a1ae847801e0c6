// The mapping from what curl saw to the failure's kind and the user's message; the
// fetcher tests reach most of these over loopback, these cover what loopback cannot
// provoke (DNS failures, connect timeouts, TLS) and pin the exact wording. Whether a kind
// is retried is the pipeline's decision (tests/unit/pipeline/failure_policy_test.cpp).
#include <gtest/gtest.h>

#include "fetch/outcome.hpp"

using imgbatch::fetch::FetchLimits;
using imgbatch::fetch::FetchResult;
using imgbatch::fetch::impl::describe_outcome;
using imgbatch::fetch::impl::low_speed_window_seconds;
using imgbatch::fetch::impl::Phase;
using imgbatch::fetch::impl::seconds_text;
using imgbatch::fetch::impl::TransferFacts;

namespace {

using Kind = imgbatch::core::Failure::Kind;

std::optional<Kind> kind_of(const FetchResult& r) {
  return r.failure ? std::optional<Kind>(r.failure->kind) : std::nullopt;
}

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

// A timeout in `phase` after `elapsed_ms`; curl's own message is deliberately one that
// names another phase, to show that only the phase counts.
TransferFacts timed_out(Phase phase, long elapsed_ms) {
  TransferFacts facts = failed(CURLE_OPERATION_TIMEDOUT, "Operation too slow. Resolving timed out");
  facts.phase = phase;
  facts.elapsed_ms = elapsed_ms;
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
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.failure.has_value());
  EXPECT_TRUE(r.error().empty());
  EXPECT_EQ(r.http_status, 200);
}

TEST(Outcome, HttpErrorsSayUnavailableOnlyFor408And429And5xx) {
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L}) {
    const auto r = outcome(http(status));
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(kind_of(r), Kind::http_unavailable) << status;
    EXPECT_EQ(r.error(), "download failed: HTTP " + std::to_string(status));
  }
  for (long status : {400L, 401L, 403L, 404L, 410L, 451L, 302L, 304L}) {
    const auto r = outcome(http(status));
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(kind_of(r), Kind::http_error) << status;
    EXPECT_EQ(r.error(), "download failed: HTTP " + std::to_string(status));
  }
}

TEST(Outcome, AnAbandonedErrorBodyStillReportsTheStatus) {
  TransferFacts facts = http(404);
  facts.code = CURLE_WRITE_ERROR;
  facts.error_body_abandoned = true;
  EXPECT_EQ(outcome(facts).error(), "download failed: HTTP 404");
  EXPECT_EQ(kind_of(outcome(facts)), Kind::http_error);
}

TEST(Outcome, ResolveFailureNamesTheHost) {
  const auto r =
      outcome(failed(CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: images.example.com"));
  EXPECT_EQ(r.error(), "could not resolve host: images.example.com");
  EXPECT_EQ(kind_of(r), Kind::dns);
}

TEST(Outcome, TimeoutsSayWhichPhaseRanOutOfTime) {
  FetchLimits limits;
  limits.timeout_ms = 30'000;
  const auto overall = outcome(timed_out(Phase::transferring, 30'001), limits);
  EXPECT_EQ(overall.error(), "download timed out after 30 s");
  EXPECT_EQ(kind_of(overall), Kind::timed_out);

  const auto connect = outcome(timed_out(Phase::connecting, 10'001), limits);
  EXPECT_EQ(connect.error(), "connection timed out after 10 s");
  EXPECT_EQ(kind_of(connect), Kind::connect_timeout);

  // Connected and ended before the overall timeout: only the low-speed check does that.
  const auto slow = outcome(timed_out(Phase::transferring, 10'050), limits);
  EXPECT_EQ(slow.error(), "download too slow: less than 1 KB/s for 10 s");
  EXPECT_EQ(kind_of(slow), Kind::too_slow);

  const auto resolve = outcome(timed_out(Phase::resolving, 10'000), limits);
  EXPECT_EQ(resolve.error(), "could not resolve host: images.example.com (timed out)");
  EXPECT_EQ(kind_of(resolve), Kind::dns_timeout);

  // Before any callback (cannot really happen): the plain timeout.
  EXPECT_EQ(kind_of(outcome(timed_out(Phase::starting, 5), limits)), Kind::timed_out);
}

TEST(Outcome, SizeAndPolicyRefusalsArePermanent) {
  TransferFacts big = http(200);
  big.code = CURLE_WRITE_ERROR;
  big.too_large = true;
  const auto r = outcome(big);
  EXPECT_EQ(r.error(), "image too large: more than 33554432 bytes (--max-image-bytes)");
  EXPECT_EQ(kind_of(r), Kind::too_large);

  TransferFacts blocked = failed(CURLE_COULDNT_CONNECT, "Failed to connect");
  blocked.blocked = "blocked address 10.0.0.1 (private)";
  const auto b = outcome(blocked);
  EXPECT_EQ(b.error(),
            "blocked address 10.0.0.1 (private); private networks are not fetched unless "
            "--allow-private-networks");
  EXPECT_EQ(kind_of(b), Kind::blocked_address);

  const auto redirects = outcome(failed(CURLE_TOO_MANY_REDIRECTS));
  EXPECT_EQ(redirects.error(), "too many redirects (more than 5)");
  EXPECT_EQ(kind_of(redirects), Kind::too_many_redirects);

  TransferFacts ftp = failed(CURLE_UNSUPPORTED_PROTOCOL);
  ftp.url = "ftp://files.example.com/a.jpg";
  EXPECT_EQ(outcome(ftp).error(),
            "unsupported URL scheme \"ftp\": only http and https URLs are fetched");
  EXPECT_EQ(kind_of(outcome(ftp)), Kind::unsupported_scheme);

  const auto malformed = outcome(failed(CURLE_URL_MALFORMAT, "URL rejected: Bad hostname"));
  EXPECT_EQ(malformed.error(), "invalid URL: URL rejected: Bad hostname");
  EXPECT_EQ(kind_of(malformed), Kind::invalid_url);

  const auto tls = outcome(failed(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem"));
  EXPECT_EQ(kind_of(tls), Kind::tls_refused);
  EXPECT_EQ(tls.error(), "secure connection refused: SSL certificate problem");
}

TEST(Outcome, ConnectionTroubleAndTheUnexpectedHaveTheirOwnKinds) {
  const auto reset = outcome(failed(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer"));
  EXPECT_EQ(kind_of(reset), Kind::connect);
  EXPECT_EQ(kind_of(outcome(failed(CURLE_SSL_CONNECT_ERROR))), Kind::connect);

  const auto nothing = outcome(failed(CURLE_OK));  // ended, but no HTTP status line came
  EXPECT_EQ(nothing.error(), "download failed: no HTTP response");
  EXPECT_EQ(kind_of(nothing), Kind::no_response);

  const auto memory = outcome(failed(CURLE_OUT_OF_MEMORY));
  EXPECT_EQ(memory.error(), "download failed: Out of memory");
  EXPECT_EQ(kind_of(memory), Kind::download_error);
}

TEST(Outcome, ABlockedAddressExplainsOnlyAFailedConnect) {
  // Another address of the host answered, then the download failed for its own reason.
  TransferFacts facts = failed(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer");
  facts.blocked = "blocked address ::1 (loopback)";
  const auto r = outcome(facts);
  EXPECT_EQ(r.error(), "connection failed: Recv failure: Connection reset by peer");
  EXPECT_EQ(kind_of(r), Kind::connect);
}

TEST(Outcome, CutShortSaysHowMuchArrived) {
  TransferFacts facts = http(200);
  facts.code = CURLE_PARTIAL_FILE;
  facts.content_length = 1000;
  facts.body_bytes = 400;
  const auto r = outcome(facts);
  EXPECT_EQ(r.error(), "download cut short: got 400 of 1000 bytes");
  EXPECT_EQ(kind_of(r), Kind::truncated);
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
