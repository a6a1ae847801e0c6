#include "sqlite/connection.hpp"

#include <sqlite3.h>

#include "store/store.hpp"

namespace imgbatch::store::sqlite {

namespace {
// Long enough to ride out another process's write transaction (a 100,000-row upload
// takes well under a second), short enough that a stuck lock shows up as an error.
constexpr int kBusyTimeoutMs = 5000;
// Negative: KiB. Keeps the hot part of the task index in memory on busy servers.
constexpr int kCacheSizeKib = 8192;
}  // namespace

Connection::Connection(const std::string& path, Role role) : path_(path) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    // The handle is allocated even on failure; keep its message before closing it.
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("sqlite: cannot open database '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  try {
    // busy_timeout comes first so that the pragmas below wait for other processes too.
    exec("PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs), "setting busy_timeout");
    exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
    exec("PRAGMA cache_size = -" + std::to_string(kCacheSizeKib), "setting cache_size");
    if (role == Role::writer) {
      // In WAL mode NORMAL keeps the database consistent after a crash and only risks the
      // last transactions on power loss: a re-run task, never a corrupt file.
      exec("PRAGMA synchronous = NORMAL", "setting synchronous");
      // WAL lets readers go on while a writer commits; it is a property of the file, so
      // the writer sets it once and readers inherit it.
      Query mode(*this, "PRAGMA journal_mode = WAL", "enabling WAL mode");
      if (!mode.step() || mode.text(0) != "wal")
        throw StoreError("sqlite: database '" + path +
                         "' cannot use WAL journaling (is it on a network file system?)");
    } else {
      exec("PRAGMA query_only = ON", "making a reader connection read-only");
    }
  } catch (...) {
    statements_.clear();
    sqlite3_close(db_);
    throw;
  }
}

Connection::~Connection() {
  statements_.clear();  // every statement must be finalized before the close
  sqlite3_close(db_);
}

void Connection::StatementDeleter::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

void Connection::exec(std::string_view sql, std::string_view doing) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, doing);
}

sqlite3_stmt* Connection::statement(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) fail(rc, "preparing \"" + std::string(sql) + "\"");
  statements_.emplace(std::string(sql), std::unique_ptr<sqlite3_stmt, StatementDeleter>(raw));
  return raw;
}

int Connection::changes() const { return sqlite3_changes(db_); }

bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

void Connection::fail(int rc, std::string_view doing) const {
  const char* message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw StoreError("sqlite: " + std::string(doing) + " failed: " + message + " (code " +
                   std::to_string(rc) + ", database '" + path_ + "')");
}

Query::Query(Connection& connection, std::string_view sql, std::string_view doing)
    : connection_(connection), statement_(connection.statement(sql)), doing_(doing) {}

Query::~Query() { reset(); }

void Query::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

Query& Query::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(statement_, index, value);
  if (rc != SQLITE_OK) connection_.fail(rc, doing_);
  return *this;
}

Query& Query::bind(int index, std::string_view value) {
  const int rc = sqlite3_bind_text64(statement_, index, value.data(), value.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) connection_.fail(rc, doing_);
  return *this;
}

Query& Query::bind_static(int index, std::string_view value) {
  const int rc = sqlite3_bind_text64(statement_, index, value.data(), value.size(), SQLITE_STATIC,
                                     SQLITE_UTF8);
  if (rc != SQLITE_OK) connection_.fail(rc, doing_);
  return *this;
}

Query& Query::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view(*value)) : bind_null(index);
}

Query& Query::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Query& Query::bind(int index, const std::optional<int>& value) {
  return value ? bind(index, static_cast<std::int64_t>(*value)) : bind_null(index);
}

Query& Query::bind(int index, const std::optional<double>& value) {
  if (!value) return bind_null(index);
  const int rc = sqlite3_bind_double(statement_, index, *value);
  if (rc != SQLITE_OK) connection_.fail(rc, doing_);
  return *this;
}

Query& Query::bind_null(int index) {
  const int rc = sqlite3_bind_null(statement_, index);
  if (rc != SQLITE_OK) connection_.fail(rc, doing_);
  return *this;
}

bool Query::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  connection_.fail(rc, doing_);
}

void Query::run() {
  while (step()) {
  }
}

std::int64_t Query::int64(int column) const { return sqlite3_column_int64(statement_, column); }

std::string Query::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
  const int size = sqlite3_column_bytes(statement_, column);
  return data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::optional<std::string> Query::optional_text(int column) const {
  if (sqlite3_column_type(statement_, column) == SQLITE_NULL) return std::nullopt;
  return text(column);
}

std::optional<double> Query::optional_double(int column) const {
  if (sqlite3_column_type(statement_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(statement_, column);
}

std::optional<std::int64_t> Query::optional_int64(int column) const {
  if (sqlite3_column_type(statement_, column) == SQLITE_NULL) return std::nullopt;
  return int64(column);
}

Transaction::Transaction(Connection& connection, Kind kind) : connection_(connection) {
  if (kind == Kind::write)
    connection_.exec("BEGIN IMMEDIATE", "starting a write transaction");
  else
    connection_.exec("BEGIN", "starting a read transaction");
}

Transaction::~Transaction() {
  if (!open_) return;
  // Runs while an exception unwinds, so it must not throw. ROLLBACK fails only when
  // SQLite has already rolled back by itself (after SQLITE_FULL, SQLITE_IOERR, …), which
  // is the state wanted anyway.
  sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  connection_.exec("COMMIT", "committing");
  open_ = false;
}

}  // namespace imgbatch::store::sqlite
