// A small blocking HTTP/1.1 client on libcurl's easy interface, for tests that talk to a
// real server over loopback. Each call opens its own handle, so tests may call from
// several threads. Nothing is hidden: paths are sent as written (no "../" folding), no
// "Expect: 100-continue" is sent, and a connection the server closes without answering
// comes back as status 0 with curl's message in `error`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace imgbatch::test_support {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  long status = 0;    // 0: no response (see error)
  std::string error;  // curl's message when status is 0
  Headers headers;    // names in lower case, in order received
  std::string body;

  // The first header called `name` (any case), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  // The body parsed as JSON; throws nlohmann::json::parse_error when it is not.
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// One part of a multipart/form-data body.
struct FormField {
  std::string name;
  std::string value;
  std::optional<std::string> filename;  // set for a file part
  std::string content_type;             // empty: none sent
};

inline constexpr std::string_view kFormBoundary = "imgbatch-test-boundary-7MA4YWxkTrZu0gW";

// The body of a multipart/form-data request with boundary kFormBoundary.
std::string form_body(const std::vector<FormField>& fields);
// "multipart/form-data; boundary=" + kFormBoundary.
std::string form_content_type();

class HttpClient {
 public:
  // e.g. "http://127.0.0.1:8080", no trailing slash.
  explicit HttpClient(std::string base_url) : base_url_(std::move(base_url)) {}

  const std::string& base_url() const { return base_url_; }

  HttpResponse get(std::string_view path, const Headers& headers = {}) const;
  HttpResponse post(std::string_view path, std::string_view body, std::string_view content_type,
                    const Headers& headers = {}) const;
  HttpResponse post_form(std::string_view path, const std::vector<FormField>& fields,
                         const Headers& headers = {}) const;
  // Any method; `body` is sent when non-empty. `path` may also be an absolute URL.
  HttpResponse request(std::string_view method, std::string_view path, std::string_view body,
                       const Headers& headers) const;

 private:
  std::string base_url_;
};

}  // namespace imgbatch::test_support
