#include "s3_client.hpp"
#include "core/sha256.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

namespace imgbatch::blob {

namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Keeps the ETag header of the (last) response.
std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  const std::string_view line(data, size * count);
  constexpr std::string_view kName = "etag:";
  if (line.size() > kName.size()) {
    std::string name(line.substr(0, kName.size()));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == kName) {
      auto value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.remove_suffix(1);
      *static_cast<std::string*>(user) = std::string(value);
    }
  }
  return size * count;
}

// The <Code> of an S3 error document, or "".
std::string error_code(const std::string& body) {
  const auto start = body.find("<Code>");
  if (start == std::string::npos) return "";
  const auto end = body.find("</Code>", start);
  if (end == std::string::npos) return "";
  return body.substr(start + 6, std::min<std::size_t>(end - start - 6, 64));
}

bool is_read(const std::string& method) { return method == "GET" || method == "HEAD"; }

// Cuts a request in progress once its kind is abandoned (non-zero aborts).
int abort_when_abandoned(void* abandoned, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(abandoned)->load() ? 1 : 0;
}

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistFree>;

void append(HeaderList& list, const std::string& line) {
  // The head stays the same once there is one; on failure the list is left as it was.
  curl_slist* head = curl_slist_append(list.get(), line.c_str());
  if (head == nullptr) throw std::bad_alloc();
  if (!list) list.reset(head);
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

}  // namespace

bool S3Response::transient() const {
  if (status == 0) return true;
  if (status >= 500 || status == 429) return true;
  return error_code == "SlowDown" || error_code == "RequestTimeout";
}

std::string S3Response::describe() const {
  if (status == 0) return "no answer: " + transport_error;
  std::string text = "HTTP " + std::to_string(status);
  if (!error_code.empty()) text += " (" + error_code + ")";
  return text;
}

// A handle taken from the pool for one request, given back (reset) however it ends.
class S3Client::PooledHandle {
 public:
  explicit PooledHandle(S3Client& client) : client_(client), handle_(client.acquire()) {}
  ~PooledHandle() { client_.release(handle_); }
  PooledHandle(const PooledHandle&) = delete;
  PooledHandle& operator=(const PooledHandle&) = delete;
  CURL* get() const { return handle_; }

 private:
  S3Client& client_;
  CURL* handle_;
};

S3Client::S3Client(S3Credentials credentials, std::string region, S3ClientOptions options)
    : credentials_(std::move(credentials)),
      region_(std::move(region)),
      sigv4_("aws:amz:" + region_ + ":s3"),
      options_(options) {
  init_curl_once();
}

S3Client::~S3Client() {
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
}

CURL* S3Client::acquire() {
  {
    const std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  CURL* handle = curl_easy_init();
  if (handle == nullptr) throw std::runtime_error("curl_easy_init failed");
  return handle;
}

void S3Client::release(CURL* handle) {
  // Options back to their defaults, so that a pooled handle keeps no pointer into a
  // finished request (its error buffer, body, header list); its open connections stay.
  curl_easy_reset(handle);
  const std::lock_guard lock(mutex_);
  idle_.push_back(handle);
}

const std::atomic<bool>& S3Client::abandon_flag(const std::string& method) const {
  return is_read(method) ? reads_abandoned_ : writes_abandoned_;
}

S3Response S3Client::send(const std::string& method, const std::string& url,
                          const std::vector<std::string>& headers, std::string_view body) {
  const bool read = is_read(method);
  const int attempts = read ? options_.read_attempts : options_.attempts;
  auto wait = options_.backoff;
  for (int attempt = 1;; ++attempt) {
    S3Response response = send_once(method, url, headers, body);
    if (!response.transient() || attempt >= attempts || abandon_flag(method)) return response;
    std::this_thread::sleep_for(wait);
    wait *= 4;
  }
}

S3Response S3Client::send_once(const std::string& method, const std::string& url,
                               const std::vector<std::string>& headers, std::string_view body) {
  const bool put = method == "PUT";
  S3Response response;
  if (abandon_flag(method)) {
    response.transport_error = "abandoned: the process is shutting down";
    return response;
  }
  // libcurl signs every header it is given, so only headers that are also sent belong
  // here (an empty "Expect:" would be signed but not sent, and the signature refused).
  HeaderList list;
  append(list, "x-amz-content-sha256: " + core::sha256_hex(body));
  if (!credentials_.session_token.empty())
    append(list, "x-amz-security-token: " + credentials_.session_token);
  for (const auto& header : headers) append(list, header);

  const PooledHandle pooled(*this);
  CURL* handle = pooled.get();
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  // Apart, not as "KEY:SECRET": an access key id may hold a colon.
  curl_easy_setopt(handle, CURLOPT_USERNAME, credentials_.access_key_id.c_str());
  curl_easy_setopt(handle, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  const auto timeout = is_read(method) ? options_.read_timeout : options_.timeout;
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response.etag);
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  // Checked about once a second even when nothing moves, so a hung request is cut soon.
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, abort_when_abandoned);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &abandon_flag(method));
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  if (method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (put) {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const CURLcode code = curl_easy_perform(handle);
  if (code == CURLE_OK) {
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
    curl_off_t length = -1;
    if (curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK)
      response.content_length = length;
    if (!response.ok()) response.error_code = error_code(response.body);
  } else if (code == CURLE_ABORTED_BY_CALLBACK) {
    response.transport_error = "abandoned: the process is shutting down";
  } else {
    response.transport_error = error[0] != '\0' ? error : curl_easy_strerror(code);
  }
  return response;
}

}  // namespace imgbatch::blob
