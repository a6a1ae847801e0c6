// The behaviour every Store backend must have, as one value-parameterised GoogleTest
// suite. A backend's test file supplies a StoreBackend (a name and a way to make a fresh,
// empty database) and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
//                            ::testing::Values(StoreBackend{"sqlite", make_harness}),
//                            backend_name);
//
// and links the `store_conformance` object library.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.hpp"

namespace imgbatch::store::testing {

// One fresh, empty database for the length of one test; removed by its destructor.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // Opens a Store on this test's database. Each call opens a separate instance (its own
  // connections), as a second process would; all of them see the same data.
  virtual std::unique_ptr<Store> open() = 0;
  // The webhook deliveries of a request as the database holds them, read from outside the
  // Store (which only claims the due ones), in the order they were queued.
  virtual std::vector<core::Delivery> deliveries(const std::string& request_id) = 0;
  // How many rows of the request are left in the database — its request row, products and
  // tasks — whether or not it is marked as deleted (which hides it from the Store's reads).
  virtual std::int64_t rows_of(const std::string& request_id) = 0;
};

// The SQL rows_of runs, with `prefix` before each table name (a schema, or nothing).
inline std::string rows_of_sql(const std::string& prefix, const std::string& request_id) {
  const std::string seq =
      "(SELECT seq FROM " + prefix + "requests WHERE id = '" + request_id + "')";
  return "SELECT (SELECT count(*) FROM " + prefix + "requests WHERE id = '" + request_id +
         "') + (SELECT count(*) FROM " + prefix + "products WHERE request_seq = " + seq +
         ") + (SELECT count(*) FROM " + prefix + "tasks WHERE request_seq = " + seq + ")";
}

struct StoreBackend {
  std::string name;
  std::function<std::unique_ptr<StoreHarness>()> make_harness;
};

inline void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

inline std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

class StoreConformance : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Store& store() { return *store_; }
  StoreHarness& harness() { return *harness_; }
  // Closes store() (and any threads it runs, which must not be alive across a fork), and
  // opens it again.
  void close_store() { store_.reset(); }
  void reopen_store() { store_ = harness_->open(); }

 private:
  std::unique_ptr<StoreHarness> harness_;
  std::unique_ptr<Store> store_;
};

}  // namespace imgbatch::store::testing
