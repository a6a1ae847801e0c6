// The failure classes are read from the real messages: each case makes its message the
// way the fetcher or the compressor does, so a reworded message that would fall into
// `other` fails here.
#include "pipeline/failure_reason.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "fetch/outcome.hpp"
#include "imaging/compressor.hpp"

namespace imgbatch::pipeline {
namespace {

using metrics::FailureReason;

std::string download_error(fetch::impl::TransferFacts facts) {
  if (facts.url.empty()) facts.url = "https://img.example/a.jpg";
  fetch::FetchResult result;
  fetch::impl::describe_outcome(facts, fetch::FetchLimits{}, result);
  EXPECT_FALSE(result.ok);
  return result.error;
}

fetch::impl::TransferFacts facts(CURLcode code, std::string message = "") {
  fetch::impl::TransferFacts f;
  f.code = code;
  f.curl_message = std::move(message);
  return f;
}

TEST(FailureReason, DownloadMessages) {
  auto status = facts(CURLE_OK);
  status.http_status = 404;
  auto too_large = facts(CURLE_WRITE_ERROR);
  too_large.too_large = true;
  auto blocked = facts(CURLE_COULDNT_CONNECT);
  blocked.blocked = "blocked address 10.0.0.1 (private)";
  auto partial = facts(CURLE_PARTIAL_FILE);
  partial.content_length = 100;
  auto scheme = facts(CURLE_UNSUPPORTED_PROTOCOL);
  scheme.url = "ftp://img.example/a.jpg";

  const std::vector<std::pair<fetch::impl::TransferFacts, FailureReason>> cases = {
      {status, FailureReason::download_http_status},
      {too_large, FailureReason::too_large},
      {blocked, FailureReason::blocked_address},
      {facts(CURLE_OPERATION_TIMEDOUT, "Operation too slow. Less than 1024 bytes/sec"),
       FailureReason::download_timeout},
      {facts(CURLE_OPERATION_TIMEDOUT, "Resolving timed out after 10000 milliseconds"),
       FailureReason::download_timeout},
      {facts(CURLE_OPERATION_TIMEDOUT, "Connection timed out after 10001 milliseconds"),
       FailureReason::download_timeout},
      {facts(CURLE_OPERATION_TIMEDOUT, "Operation timed out after 30000 milliseconds"),
       FailureReason::download_timeout},
      {facts(CURLE_COULDNT_RESOLVE_HOST), FailureReason::download_connection},
      {facts(CURLE_COULDNT_CONNECT, "Failed to connect"), FailureReason::download_connection},
      {facts(CURLE_RECV_ERROR), FailureReason::download_connection},
      {partial, FailureReason::download_connection},
      {facts(CURLE_PEER_FAILED_VERIFICATION), FailureReason::download_connection},
      {facts(CURLE_OK), FailureReason::download_connection},  // no HTTP response
      {facts(CURLE_TOO_MANY_REDIRECTS), FailureReason::bad_url},
      {scheme, FailureReason::bad_url},
      {facts(CURLE_URL_MALFORMAT), FailureReason::bad_url},
      {facts(CURLE_OUT_OF_MEMORY), FailureReason::other},
  };
  for (const auto& [f, expected] : cases) {
    const auto error = download_error(f);
    EXPECT_EQ(metrics::to_string(download_failure_reason(error)), metrics::to_string(expected))
        << error;
  }
}

std::string read_photo() {
  std::ifstream in(std::string(IMGBATCH_TESTDATA_DIR) + "/photos/flowers.jpeg", std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string compress_error(std::string_view input, imaging::EncodeOptions options = {}) {
  auto result = imaging::compress(input, options);
  EXPECT_FALSE(result.ok());
  return result.ok() ? std::string() : result.message();
}

TEST(FailureReason, ImageMessages) {
  imaging::init_vips("failure_reason_test");
  const auto photo = read_photo();
  ASSERT_GT(photo.size(), 1000u);

  const auto garbage = compress_error("definitely not an image");
  EXPECT_EQ(image_failure_reason(garbage), FailureReason::not_an_image) << garbage;
  const auto svg = compress_error(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>)");
  EXPECT_EQ(image_failure_reason(svg), FailureReason::not_an_image) << svg;

  imaging::EncodeOptions tiny;
  tiny.max_pixels = 100;
  const auto pixels = compress_error(photo, tiny);
  EXPECT_EQ(image_failure_reason(pixels), FailureReason::too_many_pixels) << pixels;

  const auto truncated = compress_error(std::string_view(photo).substr(0, photo.size() / 3));
  EXPECT_EQ(image_failure_reason(truncated), FailureReason::corrupt_image) << truncated;

  // Decodes fine, but WebP cannot hold it.
  void* buffer = nullptr;
  std::size_t length = 0;
  vips::VImage::black(17000, 2).write_to_buffer(".png", &buffer, &length);
  const std::string wide(static_cast<const char*>(buffer), length);
  g_free(buffer);
  imaging::EncodeOptions webp;
  webp.format = core::ImageFormat::webp;
  const auto too_wide = compress_error(wide, webp);
  EXPECT_EQ(image_failure_reason(too_wide), FailureReason::cannot_convert) << too_wide;

  EXPECT_EQ(image_failure_reason("something new"), FailureReason::other);
}

}  // namespace
}  // namespace imgbatch::pipeline
