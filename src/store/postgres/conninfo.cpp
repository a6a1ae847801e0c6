#include "postgres/conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace imgbatch::store::postgres {

namespace {

// Added before the URI's own settings, so that the URI overrides any of them.
constexpr const char* kDefaultKeywords[] = {"connect_timeout", "fallback_application_name",
                                            "keepalives_idle", "keepalives_interval",
                                            "keepalives_count"};
// Ten seconds to connect: long enough for a busy server, short enough that a call against
// an unreachable host fails while its caller can still retry. Keepalives notice a server
// that vanished without closing the connection within about a minute and a half.
constexpr const char* kDefaultValues[] = {"10", "imgbatch", "60", "10", "3"};

struct OptionsDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

Options parse(const std::string& uri, std::string* error) {
  char* message = nullptr;
  Options options(PQconninfoParse(uri.c_str(), &message));
  if (!options && error) *error = message ? message : "out of memory";
  PQfreemem(message);
  return options;
}

std::string option(const Options& options, std::string_view keyword) {
  for (const PQconninfoOption* o = options.get(); o && o->keyword; ++o)
    if (keyword == o->keyword && o->val) return o->val;
  return {};
}

// The password as written in the URI's user-info part, found by text alone, so that it can
// be scrubbed even from the message of a URI that libpq could not parse.
std::string literal_password(const std::string& uri) {
  const auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return {};
  const auto authority_start = scheme_end + 3;
  const auto authority_end = uri.find_first_of("/?", authority_start);
  const std::string authority = uri.substr(authority_start, authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string::npos) return {};
  const auto colon = authority.find(':');
  if (colon == std::string::npos || colon > at) return {};
  return authority.substr(colon + 1, at - colon - 1);
}

// Messages quote a password only where libpq cannot parse the URI around it. Shorter ones
// are left alone: replacing every "pw" in a message would make it unreadable.
constexpr std::size_t kShortestScrubbed = 4;

void replace_all(std::string& text, const std::string& secret) {
  if (secret.size() < kShortestScrubbed) return;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "***");
}

std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

void ignore_notice(void*, const char*) {}

// Keyword and value arrays for libpq: the defaults, then the URI, then what must hold
// whatever the URI says.
struct ConnectParams {
  std::string options;  // owns the text that values points to
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  ConnectParams(const std::string& uri, const SessionSettings& settings)
      : options(startup_options(uri, settings)) {
    for (std::size_t k = 0; k < std::size(kDefaultKeywords); ++k) {
      keywords.push_back(kDefaultKeywords[k]);
      values.push_back(kDefaultValues[k]);
    }
    keywords.push_back("dbname");  // expanded: the URI's settings replace the defaults
    values.push_back(uri.c_str());
    keywords.push_back("client_encoding");
    values.push_back("UTF8");
    if (!options.empty()) {
      keywords.push_back("options");  // the URI's own options are part of it
      values.push_back(options.c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
  }
};

void add_setting(std::string& options, std::string_view name, std::chrono::milliseconds value) {
  if (value.count() <= 0) return;
  if (!options.empty()) options += ' ';
  // Milliseconds, PostgreSQL's unit for both when none is given.
  options += "-c " + std::string(name) + "=" + std::to_string(value.count());
}

}  // namespace

std::string startup_options(const std::string& uri, const SessionSettings& settings) {
  std::string options;
  if (const Options parsed = parse(uri, nullptr)) options = option(parsed, "options");
  if (options.empty())
    if (const char* environment = std::getenv("PGOPTIONS")) options = environment;
  add_setting(options, "statement_timeout", settings.statement_timeout);
  add_setting(options, "lock_timeout", settings.lock_timeout);
  return options;
}

std::string describe_target(const std::string& uri) {
  std::string error;
  const Options options = parse(uri, &error);
  if (!options)
    throw StoreError("postgresql: the database URI is not valid: " +
                     scrub_password(one_line(error), uri));
  std::string host = option(options, "host");
  if (host.empty()) host = option(options, "hostaddr");
  const std::string port = option(options, "port");
  const std::string user = option(options, "user");
  std::string text = "postgresql://";
  if (!user.empty()) text += user + "@";
  text += host.empty() ? "localhost" : host;
  if (!port.empty()) text += ":" + port;
  text += "/" + option(options, "dbname");
  return scrub_password(text, uri);
}

std::string redact_password(const std::string& uri) {
  std::string text = uri;
  const auto scheme_end = text.find("://");
  if (scheme_end != std::string::npos) {
    const auto authority_start = scheme_end + 3;
    const auto authority_end = std::min(text.find_first_of("/?", authority_start), text.size());
    const auto at = text.rfind('@', authority_end);
    const auto colon = text.find(':', authority_start);
    if (at != std::string::npos && at >= authority_start && colon < at)
      text.replace(colon + 1, at - colon - 1, "***");
  }
  for (auto key = text.find("password="); key != std::string::npos;
       key = text.find("password=", key + 1)) {
    if (key == 0 || (text[key - 1] != '?' && text[key - 1] != '&')) continue;
    const auto value = key + std::string_view("password=").size();
    const auto end = std::min(text.find('&', value), text.size());
    text.replace(value, end - value, "***");
  }
  return text;
}

std::string scrub_password(std::string message, const std::string& uri) {
  replace_all(message, literal_password(uri));
  if (const Options options = parse(uri, nullptr))
    replace_all(message, option(options, "password"));
  return message;
}

PGconn* start_connection(const std::string& uri, const SessionSettings& settings) {
  const ConnectParams params(uri, settings);
  PGconn* conn = PQconnectStartParams(params.keywords.data(), params.values.data(), 1);
  if (!conn) throw StoreError("postgresql: out of memory while connecting");
  // NOTICEs (such as "relation already exists, skipping") would otherwise go to stderr.
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return conn;
}

PGconn* connect_blocking(const std::string& uri, const SessionSettings& settings) {
  const std::string target = describe_target(uri);  // first: it rejects a malformed URI
  const ConnectParams params(uri, settings);
  PGconn* conn = PQconnectdbParams(params.keywords.data(), params.values.data(), 1);
  if (!conn) throw StoreError("postgresql: out of memory while connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message =
        "postgresql: cannot connect to " + target + ": " + connection_error(conn, uri);
    PQfinish(conn);
    throw StoreError(message);
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return conn;
}

std::string connection_error(PGconn* conn, const std::string& uri) {
  return scrub_password(one_line(PQerrorMessage(conn)), uri);
}

}  // namespace imgbatch::store::postgres
