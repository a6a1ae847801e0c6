// The behaviour every BlobStore backend must have, as one value-parameterised GoogleTest
// suite (like the Store's, tests/unit/store/store_conformance.hpp). A backend's test file
// supplies a BlobBackend (a name and a way to make fresh, empty storage) and instantiates
// the suite:
//
//   INSTANTIATE_TEST_SUITE_P(File, BlobConformance,
//                            ::testing::Values(BlobBackend{"file", make_harness}),
//                            blob_backend_name);
//
// and links the `blob_conformance` object library.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "blob/blob_store.hpp"

namespace imgbatch::blob::testing {

// Fresh, empty storage for the length of one test; removed by its destructor.
class BlobHarness {
 public:
  virtual ~BlobHarness() = default;
  // A BlobStore on this test's storage. Each call opens a separate instance, as another
  // process sharing the storage would; all of them see the same objects.
  virtual std::unique_ptr<BlobStore> open() = 0;
  // Leaves in the storage exactly what a put of `bytes` under `key` leaves when its
  // process is killed half-way (the file backend: a temporary; S3: a PUT whose body
  // stops short), by a writer that is gone.
  virtual void leave_interrupted_put(const std::string& key, std::string_view bytes) = 0;
  // How many things in the storage are not whole objects (temporaries and the like).
  virtual int leftovers() = 0;
};

struct BlobBackend {
  std::string name;
  std::function<std::unique_ptr<BlobHarness>()> make_harness;
};

inline void PrintTo(const BlobBackend& backend, std::ostream* out) { *out << backend.name; }

inline std::string blob_backend_name(const ::testing::TestParamInfo<BlobBackend>& info) {
  return info.param.name;
}

class BlobConformance : public ::testing::TestWithParam<BlobBackend> {
 protected:
  void SetUp() override;

  BlobStore& blobs() { return *blobs_; }
  BlobHarness& harness() { return *harness_; }

 private:
  std::unique_ptr<BlobHarness> harness_;
  std::unique_ptr<BlobStore> blobs_;
};

}  // namespace imgbatch::blob::testing
