// The webhook deliveries of a request as they stand in an SQLite file, read from outside
// the Store: the Store has no reader for them (the product only claims the due ones), so
// tests that check what was recorded about an attempt look at the table itself.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace imgbatch::test_support {

inline std::vector<core::Delivery> sqlite_deliveries(const std::filesystem::path& file,
                                                     const std::string& request_id) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error(file.string() + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* query = nullptr;
  const char* sql =
      "SELECT id, webhook_id, request_id, url, attempts, next_attempt_at, created_at,"
      " delivered_at, last_status, last_error FROM deliveries WHERE request_id = ?1 ORDER BY id";
  if (sqlite3_prepare_v2(db, sql, -1, &query, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error(file.string() + ": " + message);
  }
  sqlite3_bind_text(query, 1, request_id.c_str(), -1, SQLITE_TRANSIENT);
  auto text = [&](int c) {
    const auto* value = sqlite3_column_text(query, c);
    return value ? std::optional<std::string>(reinterpret_cast<const char*>(value)) : std::nullopt;
  };
  auto number = [&](int c) {
    return sqlite3_column_type(query, c) == SQLITE_NULL
               ? std::nullopt
               : std::optional<std::int64_t>(sqlite3_column_int64(query, c));
  };
  std::vector<core::Delivery> deliveries;
  while (sqlite3_step(query) == SQLITE_ROW) {
    core::Delivery& d = deliveries.emplace_back();
    d.id = *number(0);
    d.webhook_id = text(1).value_or("");
    d.request_id = text(2).value_or("");
    d.url = text(3).value_or("");
    d.attempts = static_cast<int>(*number(4));
    d.next_attempt_at = number(5).value_or(0);
    d.created_at = *number(6);
    d.delivered_at = number(7);
    if (auto status = number(8)) d.last_status = static_cast<int>(*status);
    d.last_error = text(9);
  }
  sqlite3_finalize(query);
  sqlite3_close(db);
  return deliveries;
}

}  // namespace imgbatch::test_support
