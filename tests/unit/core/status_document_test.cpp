#include <gtest/gtest.h>

#include "core/status_document.hpp"

using namespace imgbatch::core;

namespace {
RequestRecord sample_request() {
  RequestRecord r;
  r.id = "123e4567-e89b-12d3-a456-426614174000";
  r.status = RequestStatus::completed;
  r.created_at = 1'795'946'400'000;
  r.updated_at = 1'795'946'401'000;
  r.progress = {3, 2, 1};
  r.products_total = 1;
  return r;
}
ProductRecord sample_product() {
  ProductRecord p;
  p.index = 0;
  p.serial_number = "1";
  p.product_name = "SKU1";
  ImageRecord ok{0, "https://a.test/a.jpg", TaskState::done, 1, "0-0.jpg", {}, 100, 40, {}, {}, {}};
  ImageRecord bad{1,
                  "https://a.test/b.jpg",
                  TaskState::failed,
                  1,
                  {},
                  "download failed: HTTP 404",
                  0,
                  0,
                  {},
                  {},
                  {}};
  ImageRecord ok2{2, "https://a.test/c.jpg", TaskState::done, 2, "0-2.jpg", {}, 100, 40, {}, {},
                  {}};
  p.images = {ok, bad, ok2};
  return p;
}
}  // namespace

TEST(StatusDocument, HasTheOriginalFieldsAndPairsOutputsWithInputs) {
  const auto doc = status_document(sample_request(), {sample_product()}, "http://h:1",
                                   ProxyImageLinks("http://h:1"));
  EXPECT_EQ(doc["request_id"], "123e4567-e89b-12d3-a456-426614174000");
  EXPECT_EQ(doc["status"], "completed");
  EXPECT_EQ(doc["created_at"], "2026-11-29T10:00:00Z");
  EXPECT_EQ(doc["progress"]["total"], 3);
  EXPECT_EQ(doc["progress"]["remaining"], 0);
  EXPECT_EQ(doc["output_csv_url"],
            "http://h:1/requests/123e4567-e89b-12d3-a456-426614174000/output.csv");
  const auto& product = doc["products"][0];
  EXPECT_EQ(product["serial_number"], "1");
  EXPECT_EQ(product["input_image_urls"].size(), 3u);
  EXPECT_EQ(product["output_image_urls"][0],
            "http://h:1/images/123e4567-e89b-12d3-a456-426614174000/0-0.jpg");
  EXPECT_TRUE(product["output_image_urls"][1].is_null());
  EXPECT_EQ(product["output_image_urls"][2],
            "http://h:1/images/123e4567-e89b-12d3-a456-426614174000/0-2.jpg");
  ASSERT_EQ(product["errors"].size(), 1u);
  EXPECT_EQ(product["errors"][0]["index"], 1);
  EXPECT_EQ(product["errors"][0]["url"], "https://a.test/b.jpg");
  EXPECT_EQ(product["errors"][0]["message"], "download failed: HTTP 404");
}

TEST(StatusDocument, PendingImagesHaveNullOutputsAndNoErrors) {
  auto request = sample_request();
  request.status = RequestStatus::processing;
  auto product = sample_product();
  product.images[1].state = TaskState::pending;  // a retry is waiting: not an error yet
  const auto doc = status_document(request, {product}, "http://h:1", ProxyImageLinks("http://h:1"));
  EXPECT_TRUE(doc["products"][0]["output_image_urls"][1].is_null());
  EXPECT_TRUE(doc["products"][0]["errors"].empty());
}

TEST(StatusDocument, ImageUrlsComeFromTheChosenLinksAndTheCsvUrlFromThePublicUrl) {
  const auto doc = status_document(sample_request(), {sample_product()}, "http://h:1",
                                   BaseUrlImageLinks("https://cdn.test/shop/"));
  EXPECT_EQ(doc["products"][0]["output_image_urls"][0],
            "https://cdn.test/shop/123e4567-e89b-12d3-a456-426614174000/0-0.jpg");
  EXPECT_EQ(doc["output_csv_url"],
            "http://h:1/requests/123e4567-e89b-12d3-a456-426614174000/output.csv");
}

// The quality floor is shown where a search used it (auto, or a cap), and only there.
TEST(StatusDocument, OutputSettingsShowTheQualityFloorOnlyWhereASearchUsedIt) {
  auto request = sample_request();
  request.quality = 50;
  request.choices.min_quality = 30;
  const auto settings_of = [&](const RequestRecord& r) {
    return status_document(r, {}, "http://h:1", ProxyImageLinks("http://h:1"))["output_settings"];
  };
  const auto fixed = settings_of(request);
  EXPECT_EQ(fixed["quality"], 50);
  EXPECT_FALSE(fixed.contains("min_quality")) << fixed.dump();

  auto capped = request;
  capped.choices.max_bytes = 20'000;
  EXPECT_EQ(settings_of(capped)["min_quality"], 30);
  EXPECT_EQ(settings_of(capped)["max_bytes"], 20'000);

  auto automatic = request;
  automatic.choices.quality_target = 0.92;
  const auto doc = settings_of(automatic);
  EXPECT_EQ(doc["quality"], "auto");
  EXPECT_EQ(doc["min_quality"], 30);
  EXPECT_FALSE(doc.contains("max_bytes"));
}

TEST(ImageLinks, ProxyLinksAreUnderImagesOfThePublicUrlWhateverItsTrailingSlash) {
  EXPECT_EQ(ProxyImageLinks("http://h:1").image_url("ID", "0-1.jpg"),
            "http://h:1/images/ID/0-1.jpg");
  EXPECT_EQ(ProxyImageLinks("http://h:1/base/").image_url("ID", "0-1.jpg"),
            "http://h:1/base/images/ID/0-1.jpg");
}
