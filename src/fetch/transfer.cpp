#include "transfer.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "retry_after.hpp"

namespace imgbatch::fetch::impl {
namespace {

constexpr const char* kUserAgent = "imgbatch/0.1";
constexpr long kBufferBytes = 128L * 1024;
// An error page is read this far (keeping the connection reusable), then abandoned.
constexpr std::size_t kMaxDiscardedBytes = std::size_t{64} * 1024;

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

template <class T>
void set(CURL* easy, CURLoption option, T value) {
  if (curl_easy_setopt(easy, option, value) != CURLE_OK)
    throw std::runtime_error("libcurl refused option " + std::to_string(option) +
                             " (a libcurl of 7.85 or newer with http and https is needed)");
}

bool is_success(long status) { return status >= 200 && status < 300; }

}  // namespace

Transfer::Transfer(const TransferSettings& settings)
    : settings_(settings), easy_(curl_easy_init()) {
  if (easy_ == nullptr) throw std::runtime_error("curl_easy_init failed");
  const FetchLimits& limits = settings_.limits;
  try {
    set(easy_, CURLOPT_PRIVATE, static_cast<void*>(this));
    set(easy_, CURLOPT_ERRORBUFFER, error_buffer_);
    set(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    set(easy_, CURLOPT_WRITEDATA, static_cast<void*>(this));
    set(easy_, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    set(easy_, CURLOPT_HEADERDATA, static_cast<void*>(this));
    // These three follow the phase of each hop (see Phase in outcome.hpp); the socket
    // callback also applies the address filter.
    set(easy_, CURLOPT_RESOLVER_START_FUNCTION, &Transfer::on_resolver_start);
    set(easy_, CURLOPT_RESOLVER_START_DATA, static_cast<void*>(this));
    set(easy_, CURLOPT_OPENSOCKETFUNCTION, &Transfer::on_open_socket);
    set(easy_, CURLOPT_OPENSOCKETDATA, static_cast<void*>(this));
    set(easy_, CURLOPT_PREREQFUNCTION, &Transfer::on_connected);
    set(easy_, CURLOPT_PREREQDATA, static_cast<void*>(this));
    set(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    set(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(easy_, CURLOPT_FOLLOWLOCATION, 1L);
    set(easy_, CURLOPT_MAXREDIRS, limits.max_redirects);
    set(easy_, CURLOPT_TIMEOUT_MS, limits.timeout_ms);
    set(easy_, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms(limits));
    set(easy_, CURLOPT_LOW_SPEED_LIMIT, limits.low_speed_bytes_per_second);
    set(easy_, CURLOPT_LOW_SPEED_TIME, low_speed_window_seconds(limits));
    set(easy_, CURLOPT_USERAGENT, kUserAgent);
    set(easy_, CURLOPT_NOSIGNAL, 1L);
    // A proxy from the environment would be the address checked instead of the image
    // host's, defeating the guard; imgbatch connects directly.
    set(easy_, CURLOPT_PROXY, "");
    set(easy_, CURLOPT_BUFFERSIZE, kBufferBytes);
  } catch (...) {
    curl_easy_cleanup(easy_);
    throw;
  }
}

Transfer::~Transfer() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

Transfer* Transfer::of(CURL* easy) {
  char* self = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &self);
  return reinterpret_cast<Transfer*>(self);
}

void Transfer::begin(std::string url, FetchCallback on_done, const Validators& validators) {
  on_done_ = std::move(on_done);
  // The previous download's headers are no longer in use: the handle was removed.
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers_);
  headers_ = nullptr;
  conditional_ = !validators.empty();
  validators_ = {};
  // Header values come from a server's earlier answer; curl sends each line as given, so
  // one with a line break in it is not sent (it could smuggle a header in).
  const auto add = [this](std::string_view name, const std::optional<std::string>& value) {
    if (!value || value->find_first_of("\r\n") != std::string::npos) return;
    const std::string line = std::string(name) + ": " + *value;
    if (curl_slist* more = curl_slist_append(headers_, line.c_str())) headers_ = more;
  };
  add("If-None-Match", validators.etag);
  add("If-Modified-Since", validators.last_modified);
  if (headers_ != nullptr) curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  body_ = std::string();
  facts_ = TransferFacts{};
  facts_.url = std::move(url);
  discarded_ = 0;
  error_buffer_[0] = '\0';
  started_ = std::chrono::steady_clock::now();
  curl_easy_setopt(easy_, CURLOPT_URL, facts_.url.c_str());
}

double Transfer::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

FetchResult Transfer::finish(CURLcode code) {
  FetchResult result;
  result.seconds = elapsed_seconds();
  facts_.elapsed_ms = static_cast<long>(result.seconds * 1000.0);
  facts_.code = code;
  facts_.body_bytes = body_.size();
  facts_.curl_message = error_buffer_;
  char* effective = nullptr;
  if (curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective)
    facts_.url = effective;
  describe_outcome(facts_, settings_.limits, result);
  if (conditional_ && code == CURLE_OK && facts_.http_status == 304) {
    result.failure.reset();  // what was asked: the bytes known are still current
    result.retry_after_seconds.reset();
    result.not_modified = true;
  }
  result.validators = std::move(validators_);
  if (result.ok()) result.body = std::move(body_);
  body_ = std::string();  // a failed download's bytes are not kept around in the pool
  return result;
}

FetchResult Transfer::cancel() {
  FetchResult result;
  result.seconds = elapsed_seconds();
  result.failure = shutting_down_failure();
  body_ = std::string();
  return result;
}

void Transfer::header_line(std::string_view line) {
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or a 1xx): what was read of the last one is void.
    const auto space = line.find(' ');
    long status = 0;
    if (space != std::string_view::npos) {
      const std::string_view code = line.substr(space + 1);
      std::from_chars(code.data(), code.data() + code.size(), status);
    }
    facts_.http_status = status;
    facts_.content_length = -1;
    facts_.retry_after_seconds.reset();
    validators_ = {};
    return;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  if (equals_ci(name, "content-length")) {
    long long length = -1;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    // A length too big to parse is certainly too large.
    if (ec == std::errc::result_out_of_range)
      length = std::numeric_limits<long long>::max();
    else if (ec != std::errc() || end != value.data() + value.size())
      length = -1;
    facts_.content_length = length;
  } else if (equals_ci(name, "etag")) {
    if (!value.empty()) validators_.etag = std::string(value);
  } else if (equals_ci(name, "last-modified")) {
    if (!value.empty()) validators_.last_modified = std::string(value);
  } else if (equals_ci(name, "retry-after")) {
    facts_.retry_after_seconds = parse_retry_after(value, std::time(nullptr));
  }
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t count, void* self) {
  auto& t = *static_cast<Transfer*>(self);
  const std::size_t length = size * count;
  const std::string_view line(data, length);
  if (trim(line).empty()) {
    // The end of a response's headers: refuse an image announced as too large before
    // reading any of it, else make room for it in one allocation.
    if (is_success(t.facts_.http_status) && t.facts_.content_length >= 0) {
      if (t.facts_.content_length > t.settings_.limits.max_bytes) {
        t.facts_.too_large = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
      }
      t.body_.reserve(static_cast<std::size_t>(t.facts_.content_length));
    }
    return length;
  }
  t.header_line(line);
  return length;
}

std::size_t Transfer::on_body(char* data, std::size_t size, std::size_t count, void* self) {
  auto& t = *static_cast<Transfer*>(self);
  const std::size_t length = size * count;
  if (!is_success(t.facts_.http_status)) {
    // The body of an error response is not kept (followed redirects never get here).
    t.discarded_ += length;
    if (t.discarded_ > kMaxDiscardedBytes) {
      t.facts_.error_body_abandoned = true;
      return 0;
    }
    return length;
  }
  if (t.body_.size() + length >
      static_cast<std::size_t>(std::max<long long>(t.settings_.limits.max_bytes, 0))) {
    t.facts_.too_large = true;
    return 0;
  }
  t.body_.append(data, length);
  return length;
}

int Transfer::on_resolver_start(void*, void*, void* self) {
  static_cast<Transfer*>(self)->facts_.phase = Phase::resolving;
  return 0;
}

curl_socket_t Transfer::on_open_socket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto& t = *static_cast<Transfer*>(self);
  if (purpose == CURLSOCKTYPE_IPCXN) {
    t.facts_.phase = Phase::connecting;
    if (t.settings_.filter) {
      if (auto reason = t.settings_.filter(&address->addr)) {
        if (!t.facts_.blocked) t.facts_.blocked = std::move(reason);
        return CURL_SOCKET_BAD;
      }
    }
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

int Transfer::on_connected(void* self, char*, char*, int, int) {
  static_cast<Transfer*>(self)->facts_.phase = Phase::transferring;
  return CURL_PREREQFUNC_OK;
}

}  // namespace imgbatch::fetch::impl
