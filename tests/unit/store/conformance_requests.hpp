// Small requests and outcomes the conformance files share: one product with a few images,
// created, and a success reported for one of its tasks. A fixed clock: the Store takes
// every time from its caller, so tests choose them.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "core/types.hpp"
#include "store/store.hpp"

namespace imgbatch::store::testing {

inline constexpr core::TimeMs kT0 = 1'800'000'000'000;
inline constexpr core::TimeMs kSecond = 1000;
inline constexpr core::TimeMs kLease = 30 * kSecond;

// One product with `images` images.
inline core::NewRequest one_product(int images,
                                    std::optional<std::string> webhook_url = std::nullopt) {
  core::NewRequest r;
  r.id = core::new_uuid();
  r.columns = {"S. No.", "Product Name", "Input Image Urls"};
  core::ProductInput product;
  product.serial_number = "1";
  product.product_name = "SKU1";
  std::string joined;
  for (int i = 0; i < images; ++i) {
    product.image_urls.push_back("https://img.example.com/i" + std::to_string(i) + ".jpg");
    joined += (i ? "," : "") + product.image_urls.back();
  }
  product.fields = {"1", "SKU1", joined};
  r.products.push_back(std::move(product));
  r.webhook_url = std::move(webhook_url);
  r.fingerprint = "fingerprint-" + r.id;
  r.created_at = kT0;
  return r;
}

inline std::string create(Store& store, const core::NewRequest& request) {
  EXPECT_EQ(store.create_request(request).kind, core::CreateOutcome::Kind::created);
  return request.id;
}

inline core::TaskOutcome succeeded(const core::ClaimedTask& task, std::string owner = "w") {
  core::TaskOutcome o;
  o.task_id = task.task_id;
  o.request_id = task.request_id;
  o.kind = core::TaskOutcome::Kind::succeeded;
  o.output_name = "0-" + std::to_string(task.image_index) + ".jpg";
  o.bytes_in = 1000;
  o.bytes_out = 400;
  o.owner = std::move(owner);
  return o;
}

}  // namespace imgbatch::store::testing
