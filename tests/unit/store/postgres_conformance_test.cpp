// Runs the Store conformance suite against the PostgreSQL backend. Every test gets a new,
// empty schema (search_path in the URI) on the test binary's own throwaway cluster: as
// fresh as a new database, for a millisecond instead of a few hundred.
#include <string>

#include "support/postgres_cluster.hpp"
#include "unit/store/store_conformance.hpp"

namespace imgbatch::store::testing {
namespace {

using test_support::PostgresCluster;

class PostgresHarness final : public StoreHarness {
 public:
  PostgresHarness() : schema_(PostgresCluster::shared().create_schema()) {}
  ~PostgresHarness() override {
    try {
      PostgresCluster::shared().drop_schema(schema_);
    } catch (const std::exception&) {
      // The cluster goes away with the process anyway.
    }
  }

  std::unique_ptr<Store> open() override {
    return open_store(PostgresCluster::shared().schema_uri(schema_));
  }

 private:
  std::string schema_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance,
                         ::testing::Values(StoreBackend{
                             "postgres", [] { return std::make_unique<PostgresHarness>(); }}),
                         backend_name);

}  // namespace
}  // namespace imgbatch::store::testing
