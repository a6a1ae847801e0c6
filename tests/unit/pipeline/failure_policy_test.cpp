// What the pipeline does about each kind of failure: retry or not, and the class it is
// counted under (the `reason` label of imgbatch_image_failures_total, whose values
// docs/operations.md lists). The second test feeds failures made by the real producers
// (the fetcher's outcome mapping, the compressor on real bytes) through the policy, so a
// producer that starts choosing another kind for a situation shows up here too.
#include "failure_policy.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "fetch/outcome.hpp"
#include "imaging/compressor.hpp"

namespace imgbatch::pipeline {
namespace {

using Kind = core::Failure::Kind;
using Reason = metrics::FailureReason;

TEST(FailurePolicy, EachKindIsRetriedOrNotAndCountedUnderItsClass) {
  struct Case {
    Kind kind;
    bool retry;
    Reason reason;
  };
  const std::vector<Case> cases = {
      {Kind::http_error, false, Reason::download_http_status},
      {Kind::http_unavailable, true, Reason::download_http_status},
      {Kind::timed_out, true, Reason::download_timeout},
      {Kind::too_slow, true, Reason::download_timeout},
      {Kind::dns_timeout, true, Reason::download_timeout},
      {Kind::connect_timeout, true, Reason::download_timeout},
      {Kind::dns, true, Reason::download_connection},
      {Kind::connect, true, Reason::download_connection},
      {Kind::tls_refused, false, Reason::download_connection},
      {Kind::no_response, true, Reason::download_connection},
      {Kind::truncated, true, Reason::download_connection},
      {Kind::blocked_address, false, Reason::blocked_address},
      {Kind::too_large, false, Reason::too_large},
      {Kind::too_many_redirects, false, Reason::bad_url},
      {Kind::unsupported_scheme, false, Reason::bad_url},
      {Kind::invalid_url, false, Reason::bad_url},
      {Kind::shutting_down, true, Reason::other},
      {Kind::download_error, true, Reason::other},
      {Kind::not_an_image, false, Reason::not_an_image},
      {Kind::unsupported_format, false, Reason::not_an_image},
      {Kind::too_many_pixels, false, Reason::too_many_pixels},
      {Kind::decode_error, false, Reason::corrupt_image},
      {Kind::convert_error, false, Reason::cannot_convert},
      {Kind::encode_error, false, Reason::cannot_convert},
      {Kind::storage_error, true, Reason::storage},
  };
  std::set<Kind> covered;
  for (const auto& c : cases) {
    const FailurePolicy policy = policy_for(c.kind);
    EXPECT_EQ(policy.retry, c.retry) << c.kind;
    EXPECT_EQ(metrics::to_string(policy.reason), metrics::to_string(c.reason)) << c.kind;
    covered.insert(c.kind);
  }
  EXPECT_EQ(covered.size(), core::kFailureKindCount) << "a kind without a case here";
}

Kind download_kind(fetch::impl::TransferFacts facts) {
  if (facts.url.empty()) facts.url = "https://img.example/a.jpg";
  fetch::FetchResult result;
  fetch::impl::describe_outcome(facts, fetch::FetchLimits{}, result);
  EXPECT_TRUE(result.failure.has_value());
  return result.failure ? result.failure->kind : Kind::download_error;
}

fetch::impl::TransferFacts facts(CURLcode code) {
  fetch::impl::TransferFacts f;
  f.code = code;
  return f;
}

Reason reason_of(Kind kind) { return policy_for(kind).reason; }

TEST(FailurePolicy, RealDownloadFailuresLandInTheirClass) {
  auto not_found = facts(CURLE_OK);
  not_found.http_status = 404;
  auto unavailable = facts(CURLE_OK);
  unavailable.http_status = 503;
  auto too_large = facts(CURLE_WRITE_ERROR);
  too_large.too_large = true;
  auto blocked = facts(CURLE_COULDNT_CONNECT);
  blocked.blocked = "blocked address 10.0.0.1 (private)";
  auto partial = facts(CURLE_PARTIAL_FILE);
  partial.content_length = 100;
  auto slow = facts(CURLE_OPERATION_TIMEDOUT);
  slow.phase = fetch::impl::Phase::transferring;
  slow.elapsed_ms = 10'000;
  auto resolving = facts(CURLE_OPERATION_TIMEDOUT);
  resolving.phase = fetch::impl::Phase::resolving;
  auto scheme = facts(CURLE_UNSUPPORTED_PROTOCOL);
  scheme.url = "ftp://img.example/a.jpg";

  const std::vector<std::pair<fetch::impl::TransferFacts, Reason>> cases = {
      {not_found, Reason::download_http_status},
      {unavailable, Reason::download_http_status},
      {too_large, Reason::too_large},
      {blocked, Reason::blocked_address},
      {slow, Reason::download_timeout},
      {resolving, Reason::download_timeout},
      {facts(CURLE_COULDNT_RESOLVE_HOST), Reason::download_connection},
      {facts(CURLE_COULDNT_CONNECT), Reason::download_connection},
      {partial, Reason::download_connection},
      {facts(CURLE_PEER_FAILED_VERIFICATION), Reason::download_connection},
      {facts(CURLE_OK), Reason::download_connection},  // no HTTP response
      {facts(CURLE_TOO_MANY_REDIRECTS), Reason::bad_url},
      {scheme, Reason::bad_url},
      {facts(CURLE_URL_MALFORMAT), Reason::bad_url},
      {facts(CURLE_OUT_OF_MEMORY), Reason::other},
  };
  for (const auto& [f, expected] : cases) {
    const Kind kind = download_kind(f);
    EXPECT_EQ(metrics::to_string(reason_of(kind)), metrics::to_string(expected)) << kind;
  }
  EXPECT_FALSE(policy_for(download_kind(not_found)).retry);
  EXPECT_TRUE(policy_for(download_kind(unavailable)).retry);
  EXPECT_FALSE(policy_for(download_kind(blocked)).retry);
  EXPECT_TRUE(policy_for(download_kind(partial)).retry);
}

std::string read_photo() {
  std::ifstream in(std::string(IMGBATCH_TESTDATA_DIR) + "/photos/flowers.jpeg", std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Kind image_kind(std::string_view input, imaging::EncodeOptions options = {}) {
  auto result = imaging::compress(input, options);
  EXPECT_FALSE(result.ok());
  return result.ok() ? Kind::download_error : result.error().kind;
}

TEST(FailurePolicy, RealImageFailuresLandInTheirClassAndAreNotRetried) {
  imaging::init_vips("failure_policy_test");
  const auto photo = read_photo();
  ASSERT_GT(photo.size(), 1000u);

  imaging::EncodeOptions tiny;
  tiny.max_pixels = 100;
  // Decodes fine, but WebP cannot hold it.
  void* buffer = nullptr;
  std::size_t length = 0;
  vips::VImage::black(17000, 2).write_to_buffer(".png", &buffer, &length);
  const std::string wide(static_cast<const char*>(buffer), length);
  g_free(buffer);
  imaging::EncodeOptions webp;
  webp.format = core::ImageFormat::webp;

  const std::vector<std::pair<Kind, Reason>> cases = {
      {image_kind("definitely not an image"), Reason::not_an_image},
      {image_kind(R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>)"),
       Reason::not_an_image},
      {image_kind(photo, tiny), Reason::too_many_pixels},
      {image_kind(std::string_view(photo).substr(0, photo.size() / 3)), Reason::corrupt_image},
      {image_kind(wide, webp), Reason::cannot_convert},
  };
  for (const auto& [kind, expected] : cases) {
    EXPECT_EQ(metrics::to_string(reason_of(kind)), metrics::to_string(expected)) << kind;
    EXPECT_FALSE(policy_for(kind).retry) << kind;
  }
}

}  // namespace
}  // namespace imgbatch::pipeline
