#include <filesystem>
#include <system_error>

#include "postgres/conninfo.hpp"
#include "postgres/postgres_store.hpp"
#include "sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace imgbatch::store {

namespace {

constexpr std::string_view kSqliteScheme = "sqlite:";
constexpr std::string_view kPostgresSchemes[] = {"postgresql://", "postgres://"};
constexpr std::string_view kAcceptedForms =
    "sqlite:PATH (for example sqlite:data/imgbatch.db) or a PostgreSQL URI "
    "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)";

std::unique_ptr<Store> open_sqlite(const std::string& uri, const std::string& path) {
  if (path.empty())
    throw StoreError("database URI '" + uri + "' names no file; expected " +
                     std::string(kAcceptedForms));
  // Each connection to ":memory:" is a database of its own, so the writer and the
  // readers would not see each other's data.
  if (path == ":memory:")
    throw StoreError("database URI '" + uri +
                     "': in-memory SQLite is not supported; name a "
                     "file, e.g. sqlite:/tmp/imgbatch.db");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error)
      throw StoreError("cannot create the folder '" + parent.string() + "' for database '" + path +
                       "': " + error.message());
  }
  return std::make_unique<sqlite::SqliteStore>(path);
}

}  // namespace

std::unique_ptr<Store> open_store(const std::string& uri, const OpenOptions& options) {
  if (uri.starts_with(kSqliteScheme)) return open_sqlite(uri, uri.substr(kSqliteScheme.size()));
  for (std::string_view scheme : kPostgresSchemes)
    if (uri.starts_with(scheme))
      return std::make_unique<postgres::PostgresStore>(
          uri, postgres::SessionSettings{options.statement_timeout, options.lock_timeout});
  // Only the scheme of a URL is echoed: the rest may carry a password.
  const auto scheme_end = uri.find("://");
  const std::string shown =
      scheme_end == std::string::npos ? uri : uri.substr(0, scheme_end + 3) + "...";
  throw StoreError("unknown database URI '" + shown + "'; this build accepts " +
                   std::string(kAcceptedForms));
}

std::string redact_uri(const std::string& uri) {
  if (uri.starts_with(kSqliteScheme)) return uri;  // a path: nothing secret in it
  return postgres::redact_password(uri);
}

}  // namespace imgbatch::store
