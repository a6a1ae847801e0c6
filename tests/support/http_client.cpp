#include "support/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace imgbatch::test_support {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<Headers*>(user);
  const std::string_view line(data, size * count);
  // A new status line (after a 100 Continue, say) starts a new set of headers.
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->emplace_back(lower(trim(line.substr(0, colon))),
                          std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const auto wanted = lower(name);
  for (const auto& [key, value] : headers)
    if (key == wanted) return value;
  return std::nullopt;
}

std::string form_body(const std::vector<FormField>& fields) {
  std::string body;
  for (const auto& field : fields) {
    body.append("--").append(kFormBoundary).append("\r\n");
    body.append("Content-Disposition: form-data; name=\"").append(field.name).append("\"");
    if (field.filename) body.append("; filename=\"").append(*field.filename).append("\"");
    body.append("\r\n");
    if (!field.content_type.empty())
      body.append("Content-Type: ").append(field.content_type).append("\r\n");
    body.append("\r\n").append(field.value).append("\r\n");
  }
  body.append("--").append(kFormBoundary).append("--\r\n");
  return body;
}

std::string form_content_type() {
  return "multipart/form-data; boundary=" + std::string(kFormBoundary);
}

HttpResponse HttpClient::get(std::string_view path, const Headers& headers) const {
  return request("GET", path, {}, headers);
}

HttpResponse HttpClient::post(std::string_view path, std::string_view body,
                              std::string_view content_type, const Headers& headers) const {
  Headers all = headers;
  all.emplace_back("Content-Type", std::string(content_type));
  return request("POST", path, body, all);
}

HttpResponse HttpClient::post_form(std::string_view path, const std::vector<FormField>& fields,
                                   const Headers& headers) const {
  return post(path, form_body(fields), form_content_type(), headers);
}

HttpResponse HttpClient::request(std::string_view method, std::string_view path,
                                 std::string_view body, const Headers& headers) const {
  global_init();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw std::runtime_error("curl_easy_init failed");

  const bool absolute = path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0;
  const std::string url = absolute ? std::string(path) : base_url_ + std::string(path);
  const std::string method_text(method);

  curl_slist* list = nullptr;
  // Without this, curl waits up to a second for a "100 Continue" before larger bodies.
  list = curl_slist_append(list, "Expect:");
  for (const auto& [name, value] : headers)
    list = curl_slist_append(list, (name + ": " + value).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(list,
                                                                          &curl_slist_free_all);

  HttpResponse response;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method != "GET" || !body.empty()) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }

  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    response.status = 0;
    response.error = curl_easy_strerror(rc);
    return response;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace imgbatch::test_support
