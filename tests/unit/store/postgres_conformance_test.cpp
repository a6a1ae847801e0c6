// Runs the Store conformance suite against the PostgreSQL backend. Every test gets a new,
// empty schema (search_path in the URI) on the test binary's own throwaway cluster: as
// fresh as a new database, for a millisecond instead of a few hundred.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

  std::int64_t rows_of(const std::string& request_id) override {
    return std::stoll(
        PostgresCluster::shared()
            .column(PostgresCluster::kSchemasDatabase, rows_of_sql(schema_ + ".", request_id))
            .at(0));
  }
  std::vector<core::Delivery> deliveries(const std::string& request_id) override {
    // One column at a time: the cluster's helper reads first columns as text.
    auto column = [&](const std::string& name) {
      return PostgresCluster::shared().column(PostgresCluster::kSchemasDatabase,
                                              "SELECT " + name + " FROM " + schema_ +
                                                  ".deliveries WHERE request_id = '" + request_id +
                                                  "' ORDER BY id");
    };
    auto number = [](const std::string& text) -> std::optional<std::int64_t> {
      if (text == "NULL") return std::nullopt;
      return std::stoll(text);
    };
    const auto ids = column("id"), webhook_ids = column("webhook_id"), urls = column("url"),
               attempts = column("attempts"), next = column("next_attempt_at"),
               created = column("created_at"), delivered = column("delivered_at"),
               statuses = column("last_status"), errors = column("last_error");
    std::vector<core::Delivery> deliveries(ids.size());
    for (std::size_t k = 0; k < ids.size(); ++k) {
      core::Delivery& d = deliveries[k];
      d.id = std::stoll(ids[k]);
      d.webhook_id = webhook_ids[k];
      d.request_id = request_id;
      d.url = urls[k];
      d.attempts = std::stoi(attempts[k]);
      d.next_attempt_at = number(next[k]).value_or(0);
      d.created_at = std::stoll(created[k]);
      d.delivered_at = number(delivered[k]);
      if (auto status = number(statuses[k])) d.last_status = static_cast<int>(*status);
      if (errors[k] != "NULL") d.last_error = errors[k];
    }
    return deliveries;
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
