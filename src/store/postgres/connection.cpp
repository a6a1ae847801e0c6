#include "postgres/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <charconv>

#include "postgres/conninfo.hpp"
#include "postgres/text.hpp"

namespace imgbatch::store::postgres {

namespace {

// SQLSTATEs after which the connection is gone: class 08 (connection exception) and the
// server shutting down or not yet accepting connections.
bool is_connection_state(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

// Deadlock detected and serialization failure: the server rolled the transaction back.
bool is_conflict_state(std::string_view state) { return state == "40P01" || state == "40001"; }

// What the server says when it cancels a statement for one of the session's timeouts,
// completed with what set the limit. Nothing is retried here: the transaction was rolled
// back, and the caller treats the StoreError as a database unavailable for a moment
// (the workers' loop runs again, the HTTP API answers 503), which is what a hang becomes.
std::string timeout_hint(std::string_view state, std::string_view message) {
  if (state == "55P03" && message.find("lock timeout") != std::string_view::npos)
    return " (another session held a lock longer than lock_timeout, --pg-lock-timeout)";
  if (state == "57014" && message.find("statement timeout") != std::string_view::npos)
    return " (the statement ran longer than statement_timeout, --pg-statement-timeout)";
  return {};
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

// ---- Result ----------------------------------------------------------------------------

Result::~Result() { PQclear(result_); }

int Result::rows() const { return PQntuples(result_); }

int Result::affected() const {
  const char* text = PQcmdTuples(result_);
  int value = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), value);
  return value;
}

bool Result::is_null(int row, int column) const { return PQgetisnull(result_, row, column); }

std::string_view Result::view(int row, int column) const {
  return {PQgetvalue(result_, row, column),
          static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

std::optional<std::string> Result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}

std::int64_t Result::int64(int row, int column) const {
  const std::string_view text = view(row, column);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    throw StoreError("postgresql: expected an integer in column " +
                     std::string(PQfname(result_, column)) + ", got '" + std::string(text) + "'");
  return value;
}

std::optional<std::int64_t> Result::optional_int64(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return int64(row, column);
}

// ---- Params ----------------------------------------------------------------------------

Params& Params::add(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}

Params& Params::add(std::string_view value) {
  values_.emplace_back(storable_text(value));
  return *this;
}

Params& Params::add(const std::optional<std::string>& value) {
  return value ? add(std::string_view(*value)) : add_null();
}

Params& Params::add(const std::optional<std::int64_t>& value) {
  return value ? add(*value) : add_null();
}

Params& Params::add(const std::optional<int>& value) {
  return value ? add(static_cast<std::int64_t>(*value)) : add_null();
}

Params& Params::add(const std::optional<double>& value) {
  if (!value) return add_null();
  values_.emplace_back(real_text(*value));
  return *this;
}

Params& Params::add_null() {
  values_.emplace_back(std::nullopt);
  return *this;
}

Params& Params::add_literal(std::string value) {
  values_.emplace_back(std::move(value));
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (const auto& value : values_) pointers.push_back(value ? value->c_str() : nullptr);
  return pointers;
}

// ---- Connection ------------------------------------------------------------------------

Connection::Connection(PGconn* conn, std::string uri) : conn_(conn), uri_(std::move(uri)) {}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

bool Connection::usable() {
  if (broken() || PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
  // An idle connection has nothing to read unless the server said goodbye: a shutdown
  // message, then the end of file. libpq notices the closed socket only on a read that
  // finds the end of file, which may take a second read after the message.
  for (int read = 0; read < 3; ++read) {
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (fd.fd < 0) return false;
    if (poll(&fd, 1, 0) <= 0) return true;
    if (!PQconsumeInput(conn_) || broken()) return false;
  }
  return true;
}

Result Connection::check(PGresult* result, int expected, std::string_view doing, bool committing) {
  if (result && PQresultStatus(result) == expected) return Result(result);
  const char* state_field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_field ? state_field : "";
  std::string message = trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = trimmed(PQerrorMessage(conn_));
  if (message.empty()) message = "unexpected result status";
  PQclear(result);
  const std::string hint = timeout_hint(state, message);
  message = "postgresql: " + std::string(doing) + ": " + scrub_password(message, uri_);
  // After the server's first line, before its CONTEXT (which row it was waiting for).
  message.insert(std::min(message.find('\n'), message.size()), hint);
  if (broken() || is_connection_state(state)) throw ConnectionLost(message, committing);
  if (is_conflict_state(state)) throw TransientConflict(message);
  throw StoreError(message);
}

Result Connection::query(std::string_view sql, const Params& params, std::string_view doing) {
  const std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    check(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr), PGRES_COMMAND_OK, doing, false);
    it = prepared_.emplace(key, std::move(name)).first;
  }
  const std::vector<const char*> values = params.pointers();
  PGresult* result =
      PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0);
  if (result && PQresultStatus(result) == PGRES_COMMAND_OK) return Result(result);
  return check(result, PGRES_TUPLES_OK, doing, false);
}

void Connection::exec(std::string_view sql, std::string_view doing) {
  const std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  if (result && PQresultStatus(result) == PGRES_TUPLES_OK) {
    PQclear(result);
    return;
  }
  check(result, PGRES_COMMAND_OK, doing, false);
}

void Connection::commit(std::string_view doing) {
  check(PQexec(conn_, "COMMIT"), PGRES_COMMAND_OK, doing, true);
}

void Connection::start_copy(std::string_view copy_sql, std::string_view doing) {
  const std::string text(copy_sql);
  check(PQexec(conn_, text.c_str()), PGRES_COPY_IN, doing, false);
}

void Connection::put_copy_data(std::string_view chunk, std::string_view doing) {
  // Fails only when the connection does; a server-side error in the data comes at the end.
  if (PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1)
    throw ConnectionLost("postgresql: " + std::string(doing) + ": " + connection_error(conn_, uri_),
                         false);
}

void Connection::end_copy(std::string_view doing) {
  PQputCopyEnd(conn_, nullptr);
  // One result for the COPY, then null; a result left unread would block the connection.
  PGresult* result = PQgetResult(conn_);
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  check(result, PGRES_COMMAND_OK, doing, false);
}

// ---- Transaction -----------------------------------------------------------------------

Transaction::Transaction(Connection& connection, Kind kind) : connection_(connection) {
  connection_.exec(
      kind == Kind::write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
      "starting a transaction");
}

Transaction::~Transaction() {
  if (!open_ || connection_.broken()) return;
  try {
    connection_.exec("ROLLBACK", "rolling back");
  } catch (const StoreError&) {
    // The pool sees a connection still in a transaction and does not reuse it.
  }
}

void Transaction::commit(std::string_view doing) {
  open_ = false;
  connection_.commit(doing);
}

}  // namespace imgbatch::store::postgres
