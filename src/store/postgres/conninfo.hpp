// Turning a `postgresql://` URI into a libpq connection, and naming the server in messages
// without ever showing the password. The URI goes to libpq unchanged; only defaults that
// it does not set are added (a connect timeout, keepalives, the application name), the
// client encoding is forced to UTF-8 because every string the Store handles is UTF-8, and
// the session settings (timeouts) are added to whatever `options` the URI gives.
#pragma once

#include <chrono>
#include <string>

using PGconn = struct pg_conn;

namespace imgbatch::store::postgres {

// Server settings that every connection gets in its startup packet (libpq's `options`),
// so that they hold from the first statement on, on pool and LISTEN connections alike,
// at no extra round trip. Zero leaves a setting alone.
struct SessionSettings {
  std::chrono::milliseconds statement_timeout{0};
  std::chrono::milliseconds lock_timeout{0};
};

// The `options` value to connect with: the URI's own `options` (or, when it has none,
// the PGOPTIONS environment variable, which an explicit value would otherwise hide),
// then `-c statement_timeout=MS -c lock_timeout=MS`. Appended rather than replacing, so
// that what the URI sets (a search_path, say) is kept; the server applies the settings
// in order, so ours win over a timeout that the URI also sets.
std::string startup_options(const std::string& uri, const SessionSettings& settings);

// "postgresql://user@host:port/dbname" (whatever of these the URI names; never the
// password). Throws StoreError when libpq cannot parse the URI.
std::string describe_target(const std::string& uri);

// `uri` with the password in its user-info part and in a `password=` parameter replaced
// by "***". Works on the text alone, so also on URIs that libpq would reject.
std::string redact_password(const std::string& uri);

// `message` with every occurrence of the URI's password replaced by "***" (passwords of
// four characters or more: shorter ones would match ordinary words).
std::string scrub_password(std::string message, const std::string& uri);

// Starts a non-blocking connection (PQconnectStartParams); the caller drives
// PQconnectPoll. Never null (libpq allocates even on failure); check PQstatus.
PGconn* start_connection(const std::string& uri, const SessionSettings& settings);

// Connects, blocking for at most the connect timeout. Throws StoreError naming the
// server and libpq's reason when it cannot connect.
PGconn* connect_blocking(const std::string& uri, const SessionSettings& settings);

// libpq's last error for `conn`, on one line, password scrubbed.
std::string connection_error(PGconn* conn, const std::string& uri);

}  // namespace imgbatch::store::postgres
