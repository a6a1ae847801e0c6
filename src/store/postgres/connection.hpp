// A thin RAII layer over libpq: a connection with a cache of prepared statements, a Result
// that owns its PGresult, text-format parameters, and a Transaction that rolls back unless
// committed. Every failure becomes a StoreError naming what was being done; two kinds are
// told apart because the caller may run the call again: ConnectionLost (the link broke;
// safe to retry on a new connection unless a COMMIT was on its way) and TransientConflict
// (a deadlock or serialization failure, which the server has already rolled back).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.hpp"

using PGconn = struct pg_conn;
using PGresult = struct pg_result;

namespace imgbatch::store::postgres {

class ConnectionLost : public StoreError {
 public:
  ConnectionLost(const std::string& message, bool outcome_unknown)
      : StoreError(message), outcome_unknown_(outcome_unknown) {}
  // The connection broke while a COMMIT was on its way: the transaction may or may not
  // have been applied, so it must not simply be run again.
  bool outcome_unknown() const { return outcome_unknown_; }

 private:
  bool outcome_unknown_;
};

class TransientConflict : public StoreError {
 public:
  using StoreError::StoreError;
};

class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}
  ~Result();
  Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  int rows() const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  int affected() const;
  bool is_null(int row, int column) const;
  std::string_view view(int row, int column) const;
  std::string text(int row, int column) const { return std::string(view(row, column)); }
  std::optional<std::string> optional_text(int row, int column) const;
  std::int64_t int64(int row, int column) const;
  int integer(int row, int column) const { return static_cast<int>(int64(row, column)); }
  std::optional<std::int64_t> optional_int64(int row, int column) const;

  // One row, read by column index alone: the shape store/common's readers take.
  class Row {
   public:
    Row(const Result& result, int row) : result_(result), row_(row) {}
    bool is_null(int column) const { return result_.is_null(row_, column); }
    std::string text(int column) const { return result_.text(row_, column); }
    std::optional<std::string> optional_text(int column) const {
      return result_.optional_text(row_, column);
    }
    std::int64_t int64(int column) const { return result_.int64(row_, column); }
    int integer(int column) const { return result_.integer(row_, column); }
    std::optional<std::int64_t> optional_int64(int column) const {
      return result_.optional_int64(row_, column);
    }
    // Double precision arrives as the shortest text that reads back as the same double.
    std::optional<double> optional_double(int column) const {
      const auto text = optional_text(column);
      if (!text) return std::nullopt;
      return std::strtod(text->c_str(), nullptr);
    }

   private:
    const Result& result_;
    int row_;
  };
  Row row(int row) const { return Row(*this, row); }

 private:
  PGresult* result_;
};

// Parameters in text format, $1 first. Strings are made storable (text.hpp).
class Params {
 public:
  Params& add(std::int64_t value);
  Params& add(int value) { return add(static_cast<std::int64_t>(value)); }
  Params& add(std::string_view value);
  Params& add(const std::string& value) { return add(std::string_view(value)); }
  Params& add(const char* value) { return add(std::string_view(value)); }
  Params& add(const std::optional<std::string>& value);
  Params& add(const std::optional<std::int64_t>& value);
  Params& add(const std::optional<int>& value);
  Params& add(const std::optional<double>& value);
  Params& add_null();
  // A literal passed as is, such as an array literal built by text.hpp.
  Params& add_literal(std::string value);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object: valid until it changes.
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

class Connection {
 public:
  // Takes ownership of an open connection.
  Connection(PGconn* conn, std::string uri);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` as a statement prepared once per connection and kept for reuse.
  Result query(std::string_view sql, const Params& params, std::string_view doing);
  Result query(std::string_view sql, std::string_view doing) { return query(sql, Params(), doing); }
  // Runs SQL without parameters through the simple protocol (BEGIN, DDL, NOTIFY).
  void exec(std::string_view sql, std::string_view doing);
  // COMMIT: a broken link here leaves the outcome unknown (ConnectionLost says so).
  void commit(std::string_view doing);

  // COPY ... FROM STDIN in text format: `write_rows(send)` calls send(chunk) with whole
  // rows, each ending in a newline.
  template <class WriteRows>
  void copy_in(std::string_view copy_sql, std::string_view doing, WriteRows&& write_rows) {
    start_copy(copy_sql, doing);
    write_rows([&](std::string_view chunk) { put_copy_data(chunk, doing); });
    end_copy(doing);
  }

  // False when the connection is known to be unusable: broken, or still inside a
  // transaction. An idle connection whose server went away (a restart) is noticed here by
  // the end-of-file waiting on its socket, before anything is sent on it.
  bool usable();
  bool broken() const;

  PGconn* handle() const { return conn_; }

 private:
  Result check(PGresult* result, int expected, std::string_view doing, bool committing);
  void start_copy(std::string_view copy_sql, std::string_view doing);
  void put_copy_data(std::string_view chunk, std::string_view doing);
  void end_copy(std::string_view doing);

  PGconn* conn_;
  std::string uri_;  // for scrubbing the password out of messages
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// BEGIN now; ROLLBACK when it goes away uncommitted.
class Transaction {
 public:
  // READ COMMITTED read-write by default; `snapshot` gives several reads one view.
  enum class Kind { write, snapshot };
  Transaction(Connection& connection, Kind kind = Kind::write);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit(std::string_view doing);

 private:
  Connection& connection_;
  bool open_ = true;
};

}  // namespace imgbatch::store::postgres
