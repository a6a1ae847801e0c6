// Turning a `postgresql://` URI into a libpq connection, and naming the server in messages
// without ever showing the password. The URI goes to libpq unchanged; only defaults that
// it does not set are added (a connect timeout, keepalives, the application name), and
// the client encoding is forced to UTF-8 because every string the Store handles is UTF-8.
#pragma once

#include <string>

using PGconn = struct pg_conn;

namespace imgbatch::store::postgres {

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
PGconn* start_connection(const std::string& uri);

// Connects, blocking for at most the connect timeout. Throws StoreError naming the
// server and libpq's reason when it cannot connect.
PGconn* connect_blocking(const std::string& uri);

// libpq's last error for `conn`, on one line, password scrubbed.
std::string connection_error(PGconn* conn, const std::string& uri);

}  // namespace imgbatch::store::postgres
