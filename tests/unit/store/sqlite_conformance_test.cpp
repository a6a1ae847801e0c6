// Runs the Store conformance suite against the SQLite backend, each test on a new file
// in its own temporary folder.
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
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
  std::int64_t rows_of(const std::string& request_id) override {
    sqlite3* db = nullptr;
    sqlite3_stmt* query = nullptr;
    std::int64_t rows = -1;
    if (sqlite3_open_v2(file().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
        sqlite3_prepare_v2(db, rows_of_sql("", request_id).c_str(), -1, &query, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(query) == SQLITE_ROW)
      rows = sqlite3_column_int64(query, 0);
    sqlite3_finalize(query);
    sqlite3_close(db);
    if (rows < 0) throw std::runtime_error("counting the rows of " + request_id + " failed");
    return rows;
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
