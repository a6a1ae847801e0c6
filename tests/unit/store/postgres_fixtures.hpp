// What the PostgreSQL store tests share: the throwaway cluster, a schema of each test's
// own, requests and outcomes to store, and a wait for a condition.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "core/ids.hpp"
#include "core/types.hpp"
#include "store/store.hpp"
#include "support/postgres_cluster.hpp"

namespace imgbatch::store::testing {

inline constexpr core::TimeMs kT0 = 1'800'000'000'000;
inline constexpr core::TimeMs kLease = 30'000;

inline test_support::PostgresCluster& cluster() { return test_support::PostgresCluster::shared(); }
// The database the test schemas live in.
inline constexpr const char* kDb = test_support::PostgresCluster::kSchemasDatabase;

// A schema of the test's own, dropped at the end.
class Schema {
 public:
  Schema() : name_(cluster().create_schema()) {}
  ~Schema() {
    try {
      cluster().drop_schema(name_);
    } catch (const std::exception&) {
    }
  }
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  std::string uri() const { return cluster().schema_uri(name_); }
  std::unique_ptr<Store> open() const { return open_store(uri()); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// `products` products of `images_each` images each, made at kT0.
inline core::NewRequest make_request(int products, int images_each,
                                     std::optional<std::string> webhook_url = std::nullopt) {
  core::NewRequest r;
  r.id = core::new_uuid();
  r.columns = {"S. No.", "Product Name", "Input Image Urls"};
  for (int p = 0; p < products; ++p) {
    core::ProductInput product;
    product.serial_number = std::to_string(p + 1);
    product.product_name = "SKU" + std::to_string(p + 1);
    for (int i = 0; i < images_each; ++i)
      product.image_urls.push_back("https://img.example.com/" + std::to_string(p) + "/" +
                                   std::to_string(i) + ".jpg");
    product.fields = {product.serial_number, product.product_name, "urls"};
    r.products.push_back(std::move(product));
  }
  r.webhook_url = std::move(webhook_url);
  r.fingerprint = "fingerprint-" + r.id;
  r.created_at = kT0;
  return r;
}

inline core::TaskOutcome succeeded(const core::ClaimedTask& task) {
  core::TaskOutcome o;
  o.task_id = task.task_id;
  o.request_id = task.request_id;
  o.owner = "w";
  o.kind = core::TaskOutcome::Kind::succeeded;
  o.output_name =
      std::to_string(task.product_index) + "-" + std::to_string(task.image_index) + ".jpg";
  o.bytes_in = 1000;
  o.bytes_out = 100;
  return o;
}

inline core::TaskOutcome failed(const core::ClaimedTask& task, std::string error = "HTTP 404") {
  core::TaskOutcome o;
  o.task_id = task.task_id;
  o.request_id = task.request_id;
  o.owner = "w";
  o.kind = core::TaskOutcome::Kind::failed;
  o.error = std::move(error);
  return o;
}

// Waits until `condition()` holds, polling; false after a generous wait.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The message of the StoreError that `call` throws; "" when it throws none.
inline std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

}  // namespace imgbatch::store::testing
