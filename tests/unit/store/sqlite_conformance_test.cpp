// Runs the Store conformance suite against the SQLite backend, each test on a new file
// in its own temporary folder.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/sqlite_deliveries.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/store_conformance.hpp"

namespace imgbatch::store::testing {
namespace {

using test_support::TempDir;

class SqliteHarness final : public StoreHarness {
 public:
  std::unique_ptr<Store> open() override {
    // A folder that does not exist yet: open_store must create it.
    return open_store("sqlite:" + file().string());
  }
  std::vector<core::Delivery> deliveries(const std::string& request_id) override {
    return test_support::sqlite_deliveries(file(), request_id);
  }

 private:
  std::filesystem::path file() const { return dir_.path() / "nested" / "imgbatch.db"; }

  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(StoreBackend{
                             "sqlite", [] { return std::make_unique<SqliteHarness>(); }}),
                         backend_name);

}  // namespace
}  // namespace imgbatch::store::testing
