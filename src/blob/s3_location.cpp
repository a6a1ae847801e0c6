#include "s3_location.hpp"

#include <algorithm>

namespace imgbatch::blob {

namespace {

constexpr std::string_view kScheme = "s3://";

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// S3's rules for new buckets: 3 to 63 of [a-z0-9.-], starting and ending with a letter or
// digit. (Names outside them cannot be addressed virtual-hosted.)
bool is_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back())) return false;
  for (const char c : name)
    if (!is_lower_alnum(c) && c != '.' && c != '-') return false;
  return name.find("..") == std::string_view::npos;
}

// Characters SigV4 leaves as they are (RFC 3986 unreserved) plus '/': a prefix made of
// them is its own canonical URI and query value (with '/' encoded there).
bool is_plain_prefix(std::string_view prefix) {
  for (const char c : prefix) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    if (!ok) return false;
  }
  return prefix.find("//") == std::string_view::npos;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The endpoint as an error message may show it: a user:password@ part is never repeated.
std::string shown(const std::string& endpoint) {
  const auto authority = endpoint.find("://");
  const auto start = authority == std::string::npos ? 0 : authority + 3;
  const auto end = std::min(endpoint.find_first_of("/?#", start), endpoint.size());
  // The last '@' of the authority ends the user part: a password may hold one too.
  const auto at = endpoint.rfind('@', end == 0 ? 0 : end - 1);
  if (at == std::string::npos || at < start) return endpoint;
  return endpoint.substr(0, start) + "…" + endpoint.substr(at);
}

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::string S3Location::object_path(std::string_view key) const {
  std::string path = bucket_path;
  if (!prefix.empty()) path.append(prefix).append("/");
  path.append(key);
  return path;
}

std::string S3Location::probe_url() const {
  // Query parameters in canonical order (by name): libcurl signs the query as given.
  std::string url = base + bucket_path + "?list-type=2&max-keys=1";
  if (!prefix.empty()) {
    url += "&prefix=";
    for (const char c : prefix + "/") url += c == '/' ? std::string("%2F") : std::string(1, c);
  }
  return url;
}

std::string S3Location::describe() const {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix) + " at " + base;
}

core::Result<S3Location> parse_s3_location(const std::string& uri, const std::string& endpoint,
                                           const std::string& region) {
  if (uri.rfind(kScheme, 0) != 0)
    return core::make_error("storage URI \"" + uri + "\" is not s3://BUCKET[/PREFIX]");
  const std::string rest = uri.substr(kScheme.size());
  const auto slash = rest.find('/');
  S3Location location;
  location.bucket = rest.substr(0, slash);
  location.prefix = slash == std::string::npos ? "" : trim_slashes(rest.substr(slash + 1));
  if (!is_bucket_name(location.bucket))
    return core::make_error("storage URI \"" + uri + "\": \"" + location.bucket +
                            "\" is not a bucket name (3 to 63 of a-z, 0-9, '.' and '-', "
                            "starting and ending with a letter or digit)");
  if (!is_plain_prefix(location.prefix))
    return core::make_error("storage URI \"" + uri + "\": the prefix \"" + location.prefix +
                            "\" may hold only letters, digits, '-', '_', '.', '~' and single '/'");
  if (region.empty() || region.find_first_of("/ \t\r\n") != std::string::npos)
    return core::make_error("S3 region \"" + region + "\" is not a region name (e.g. us-east-1)");

  if (endpoint.empty()) {
    // Virtual-hosted, as AWS prefers, unless the name has a dot: AWS's certificate for
    // *.s3.REGION.amazonaws.com covers one label only, so such a bucket is addressed
    // path-style, as the AWS SDKs do.
    const std::string regional = "s3." + region + ".amazonaws.com";
    const bool dotted = location.bucket.find('.') != std::string::npos;
    location.host = dotted ? regional : location.bucket + "." + regional;
    location.base = "https://" + location.host;
    location.bucket_path = dotted ? "/" + location.bucket + "/" : "/";
    return location;
  }
  std::string base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const auto scheme_end = base.find("://");
  const std::string scheme =
      scheme_end == std::string::npos ? "" : lower(base.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https")
    return core::make_error("S3 endpoint \"" + shown(endpoint) +
                            "\" is not an http:// or https:// URL (e.g. http://127.0.0.1:7480)");
  // Lower case, as a browser sends it: a presigned link is signed for this Host.
  location.host = lower(base.substr(scheme_end + 3));
  if (location.host.empty() || location.host.find_first_of("/?#@") != std::string::npos)
    return core::make_error("S3 endpoint \"" + shown(endpoint) +
                            "\" must be SCHEME://HOST[:PORT] with no path, query or user");
  // Clients leave a default port out of the Host header, and a presigned link is signed
  // for the Host they will send.
  const std::string default_port = scheme == "http" ? ":80" : ":443";
  if (location.host.size() > default_port.size() && location.host.ends_with(default_port))
    location.host.erase(location.host.size() - default_port.size());
  location.base = scheme + "://" + location.host;
  location.bucket_path = "/" + location.bucket + "/";
  return location;
}

}  // namespace imgbatch::blob
