#include "sender.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace imgbatch::webhook {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxConnectTimeout{10'000};
constexpr const char* kUserAgent = "imgbatch/" IMGBATCH_VERSION;

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Exchange {
  const SendOptions* options = nullptr;
  std::string response_body;
  bool body_truncated = false;  // we stopped reading on purpose
  std::string blocked_address;  // set when allow_address refused one
};

std::string format_address(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  }
  return text;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const std::size_t len = size * count;
  const std::size_t room = ex->options->max_response_bytes - ex->response_body.size();
  ex->response_body.append(data, std::min(len, room));
  if (len > room) {
    // The status is all that matters; stop a receiver that would stream for ever.
    ex->body_truncated = true;
    return 0;
  }
  return len;
}

curl_socket_t on_open_socket(void* user, curlsocktype /*purpose*/, curl_sockaddr* address) {
  auto* ex = static_cast<Exchange*>(user);
  if (!ex->options->allow_address(&address->addr, address->addrlen)) {
    ex->blocked_address = format_address(&address->addr);
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

SendResult classify_status(int status) {
  SendResult r;
  r.http_status = status;
  if (status >= 200 && status < 300) {
    r.outcome = SendOutcome::delivered;
  } else if (status == 410) {
    r.outcome = SendOutcome::stop;
    r.error = "receiver answered HTTP 410 Gone: delivery stopped, not retried";
  } else if (status >= 300 && status < 400) {
    r.outcome = SendOutcome::retry;
    r.error = "receiver answered HTTP " + std::to_string(status) +
              ", a redirect; redirects are not followed, set the webhook URL to the final address";
  } else {
    r.outcome = SendOutcome::retry;
    r.error = "receiver answered HTTP " + std::to_string(status);
  }
  return r;
}

SendResult stop_with(std::string error) {
  SendResult r;
  r.outcome = SendOutcome::stop;
  r.error = std::move(error);
  return r;
}

}  // namespace

std::string_view to_string(SendOutcome o) {
  switch (o) {
    case SendOutcome::delivered:
      return "delivered";
    case SendOutcome::stop:
      return "stop";
    case SendOutcome::retry:
      return "retry";
  }
  return "unknown";
}

SendResult send_webhook(const std::string& url, std::string_view body, const HeaderList& headers,
                        const SendOptions& options) {
  ensure_curl_initialised();
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) {
    SendResult r;
    r.error = "webhook delivery failed: could not initialise libcurl";
    return r;
  }

  curl_slist* raw_list = nullptr;
  auto add_header = [&raw_list](const std::string& line) {
    curl_slist* next = curl_slist_append(raw_list, line.c_str());
    if (next != nullptr) raw_list = next;
    return next != nullptr;
  };
  bool headers_ok = add_header("Content-Type: application/json") &&
                    // No "Expect: 100-continue" round trip: many receivers never answer it.
                    add_header("Expect:");
  for (const auto& [name, value] : headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value)) {
      curl_slist_free_all(raw_list);
      return stop_with("invalid webhook header \"" + name +
                       "\": names and values cannot hold line breaks");
    }
    std::string line = name;
    line.append(": ").append(value);
    headers_ok = headers_ok && add_header(line);
  }
  std::unique_ptr<curl_slist, SlistDeleter> header_list(raw_list);
  if (!headers_ok) {
    SendResult r;
    r.error = "webhook delivery failed: out of memory building headers";
    return r;
  }

  Exchange ex;
  ex.options = &options;
  char error_buffer[CURL_ERROR_SIZE] = "";
  CURL* c = easy.get();
  const auto timeout = std::max<milliseconds>(options.timeout, milliseconds(1));
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // we are one thread among many
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(timeout, kMaxConnectTimeout).count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  if (options.allow_address) {
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &ex);
  }

  const CURLcode rc = curl_easy_perform(c);

  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t retry_after = 0;
  curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after);

  if (!ex.blocked_address.empty() && status == 0) {
    return stop_with("webhook URL " + url + " leads to the blocked address " + ex.blocked_address +
                     " (private and local networks are refused unless --allow-private-networks)");
  }
  if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
    return stop_with("invalid webhook URL " + url +
                     ": only absolute http:// and https:// URLs work");
  }

  SendResult r;
  if (status >= 200) {
    // The receiver answered: its status decides, even if reading the rest then failed.
    r = classify_status(static_cast<int>(status));
  } else {
    r.outcome = SendOutcome::retry;
    r.error = std::string("webhook delivery failed: ") +
              (error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc));
  }
  if (retry_after > 0) r.retry_after = std::chrono::seconds(retry_after);
  r.response_body = std::move(ex.response_body);
  return r;
}

}  // namespace imgbatch::webhook
