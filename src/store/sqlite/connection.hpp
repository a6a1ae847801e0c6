// A thin RAII layer over the SQLite C API: a connection with its start-up pragmas and a
// cache of prepared statements, a Query that borrows a cached statement and resets it
// when done, and a Transaction that rolls back unless committed. Every SQLite failure
// becomes a StoreError that names what was being done and the database file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace imgbatch::store::sqlite {

class Connection {
 public:
  enum class Role {
    writer,  // sets the file's pragmas (WAL); takes every write and the migrations
    reader,  // query_only: a bug that writes through it fails loudly
  };

  Connection(const std::string& path, Role role);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results (DDL, pragmas, BEGIN/COMMIT).
  void exec(std::string_view sql, std::string_view doing);

  // The statement for `sql`, prepared once per connection and kept for reuse.
  sqlite3_stmt* statement(std::string_view sql);

  [[noreturn]] void fail(int rc, std::string_view doing) const;

  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int changes() const;
  bool in_transaction() const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* s) const;
  };

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>> statements_;
};

// One execution of a cached statement. Parameters are 1-based, columns 0-based, as in
// SQLite. Text is copied on bind, so temporaries are safe to pass.
class Query {
 public:
  Query(Connection& connection, std::string_view sql, std::string_view doing);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::int64_t value);
  Query& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Query& bind(int index, std::string_view value);
  Query& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Query& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Query& bind(int index, const std::optional<std::string>& value);
  Query& bind(int index, const std::optional<std::int64_t>& value);
  Query& bind(int index, const std::optional<int>& value);
  Query& bind(int index, const std::optional<double>& value);
  Query& bind_null(int index);
  // Binds without copying: `value` must stay alive until the statement is reset. For
  // bulk inserts, where the copy is a measurable part of the cost.
  Query& bind_static(int index, std::string_view value);

  // Advances to the next row; false when there are no more. Reusable after reset().
  bool step();
  // Runs a statement that returns no rows (or whose rows are not needed).
  void run();
  // Makes the statement ready to run again with new bindings.
  void reset();

  std::int64_t int64(int column) const;
  int integer(int column) const { return static_cast<int>(int64(column)); }
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  std::optional<double> optional_double(int column) const;

 private:
  Connection& connection_;
  sqlite3_stmt* statement_;
  std::string doing_;  // owned: callers may pass a temporary
};

// BEGIN IMMEDIATE takes the write lock up front, so a write transaction never fails
// half-way with SQLITE_BUSY while upgrading from a read (which busy_timeout cannot
// retry); a read transaction gives several queries one consistent snapshot.
class Transaction {
 public:
  enum class Kind { read, write };
  Transaction(Connection& connection, Kind kind);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  Connection& connection_;
  bool open_ = true;
};

}  // namespace imgbatch::store::sqlite
