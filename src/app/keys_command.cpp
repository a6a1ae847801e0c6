#include "keys_command.hpp"

#include <algorithm>
#include <cctype>
#include <iomanip>

#include "auth/tokens.hpp"
#include "core/types.hpp"

namespace imgbatch {

namespace {

constexpr std::size_t kMaxNameLength = 100;

// Names go into tables and log lines: printable ASCII without spaces keeps both readable.
bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@';
         });
}

std::string limit_text(const std::optional<std::int64_t>& limit) {
  return limit ? std::to_string(*limit) : "-";
}

}  // namespace

int keys_create(store::Store& store, const KeysCreateArgs& args, std::ostream& out,
                std::ostream& err) {
  if (!valid_name(args.name)) {
    err << "imgbatch keys create: the name '" << args.name
        << "' must be 1 to 100 letters, digits or - _ . @\n";
    return 2;
  }
  const std::string token = auth::new_token();
  core::NewApiKey key;
  key.id = auth::new_key_id();
  key.name = args.name;
  key.token_hash = auth::token_hash(token);
  key.admin = args.admin;
  key.images_per_day = args.images_per_day;
  key.uploads_per_minute = args.uploads_per_minute;
  key.created_at = core::now_ms();
  if (!store.create_api_key(key)) {
    err << "imgbatch keys create: a key named '" << args.name
        << "' exists already; revoke it first or choose another name\n";
    return 2;
  }
  // The token alone on stdout, so that scripts can capture it; the advice on stderr.
  out << token << "\n";
  err << "Created " << (args.admin ? "admin " : "") << "key '" << args.name
      << "'. This token is shown once and cannot be recovered; send it as\n"
      << "Authorization: Bearer TOKEN.\n";
  return 0;
}

int keys_list(store::Store& store, std::ostream& out) {
  out << std::left << std::setw(24) << "NAME" << std::setw(7) << "ADMIN" << std::setw(16)
      << "IMAGES/DAY" << std::setw(16) << "UPLOADS/MIN" << std::setw(22) << "CREATED"
      << "REVOKED\n";
  for (const auto& key : store.list_api_keys()) {
    out << std::left << std::setw(24) << key.name << std::setw(7) << (key.admin ? "yes" : "no")
        << std::setw(16) << limit_text(key.images_per_day) << std::setw(16)
        << limit_text(key.uploads_per_minute) << std::setw(22)
        << core::format_iso8601(key.created_at)
        << (key.revoked_at ? core::format_iso8601(*key.revoked_at) : "-") << "\n";
  }
  return 0;
}

int keys_revoke(store::Store& store, const std::string& name, std::ostream& out,
                std::ostream& err) {
  if (!store.revoke_api_key(name, core::now_ms())) {
    err << "imgbatch keys revoke: no key named '" << name << "' that is not revoked already\n";
    return 2;
  }
  out << "Revoked key '" << name << "'; every process refuses it from now on.\n";
  return 0;
}

}  // namespace imgbatch
