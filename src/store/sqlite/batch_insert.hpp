// Inserts many rows of one shape through multi-row INSERT statements. A statement's
// fixed cost (starting the VM, statement-level bookkeeping) is then paid once per
// kRowsPerStatement rows instead of once per row: a third of the time of storing a
// large request row by row.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "sqlite/connection.hpp"

namespace imgbatch::store::sqlite {

class BatchInsert {
 public:
  static constexpr int kRowsPerStatement = 100;

  // `head` is "INSERT INTO table (a, b, c) VALUES "; `columns` the number of values per
  // row; `rows` how many rows will be added, so that the tail that does not fill a whole
  // statement goes through a one-row statement instead.
  BatchInsert(Connection& db, std::string_view head, int columns, std::int64_t rows,
              std::string_view doing)
      : batch_(db, values_sql(head, columns, kRowsPerStatement), doing),
        single_(db, values_sql(head, columns, 1), doing),
        columns_(columns),
        rows_(rows),
        batched_rows_(rows - rows % kRowsPerStatement) {}

  // Adds one row; exactly `columns` values, in column order. Text is not copied: every
  // string passed must outlive this object.
  template <class... Values>
  void row(Values&&... values) {
    static_assert(!(std::is_same_v<Values, std::string> || ...),
                  "a temporary string would be gone before its batch is written");
    if (added_ < batched_rows_) {
      int index = in_batch_ * columns_;
      (bind(batch_, ++index, values), ...);
      if (++in_batch_ == kRowsPerStatement) {
        batch_.run();
        batch_.reset();
        in_batch_ = 0;
      }
    } else {
      int index = 0;
      (bind(single_, ++index, values), ...);
      single_.run();
      single_.reset();
    }
    ++added_;
  }

  // Rows bound to a batch that never filled would be lost without a word.
  void finish() const {
    if (added_ != rows_)
      throw std::logic_error("BatchInsert: " + std::to_string(added_) + " rows added, " +
                             std::to_string(rows_) + " announced");
  }

 private:
  static void bind(Query& query, int index, std::int64_t value) { query.bind(index, value); }
  static void bind(Query& query, int index, const std::string& value) {
    query.bind_static(index, value);
  }
  // Nullable text: the string pointed to, or NULL.
  static void bind(Query& query, int index, const std::string* value) {
    if (value == nullptr)
      query.bind_null(index);
    else
      query.bind_static(index, *value);
  }

  static std::string values_sql(std::string_view head, int columns, int rows) {
    std::string tuple = "(";
    for (int c = 0; c < columns; ++c) tuple += c ? ",?" : "?";
    tuple += ")";
    std::string sql(head);
    for (int r = 0; r < rows; ++r) sql.append(r ? "," : "").append(tuple);
    return sql;
  }

  Query batch_;
  Query single_;
  int columns_;
  std::int64_t rows_;
  std::int64_t batched_rows_;
  std::int64_t added_ = 0;
  int in_batch_ = 0;
};

}  // namespace imgbatch::store::sqlite
