// S3Client: signed HTTP requests to an S3 API, over a pool of libcurl easy handles so that
// connections are kept alive and reused across threads (the pipeline's put threads, the
// HTTP threads serving /images). Requests are signed by libcurl (CURLOPT_AWS_SIGV4) with
// the payload hash we give it in x-amz-content-sha256. Transient failures — no connection,
// a timeout, 5xx, 429, SlowDown, RequestTimeout — are retried a few times with a short
// backoff; longer outages are the caller's to retry (an image's attempts). Nothing here
// puts the credentials in a message.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sigv4.hpp"

namespace imgbatch::blob {

struct S3Response {
  long status = 0;  // 0: no HTTP answer (transport_error says why)
  std::string transport_error;
  std::string body;
  std::string etag;                  // the ETag header, as sent (quotes included)
  std::int64_t content_length = -1;  // the Content-Length header; -1 when not sent
  std::string error_code;            // <Code> of an S3 error body, e.g. "NoSuchKey"

  bool ok() const { return status >= 200 && status < 300; }
  bool transient() const;
  // "HTTP 503 (SlowDown)" or "no answer: Connection refused …", for messages.
  std::string describe() const;
};

struct S3ClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds timeout{60'000};  // one whole PUT or DELETE
  // One whole GET or HEAD, and how many tries: GET /images waits on them, and its client
  // (and RESTinio, after 30 s) will not wait for ever. 2 x 10 s + backoff stays under 30 s.
  std::chrono::milliseconds read_timeout{10'000};
  int read_attempts = 2;
  // A request that moves under 1 KiB/s for this long has stalled (a gateway that took
  // the connection and went silent): it fails as a timeout, long before `timeout`.
  std::chrono::seconds stall_timeout{10};
  int attempts = 3;                        // tries of a transient failure
  std::chrono::milliseconds backoff{150};  // before the 2nd try; x4 for each after
};

class S3Client {
 public:
  S3Client(S3Credentials credentials, std::string region, S3ClientOptions options = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // `method` GET, HEAD, PUT or DELETE; `headers` "Name: value" lines; `body` sent with PUT. The
  // payload hash header is added here.
  S3Response send(const std::string& method, const std::string& url,
                  const std::vector<std::string>& headers = {}, std::string_view body = {});

  // From now on every PUT and DELETE fails at once, those in progress included (their
  // transfer is cut). For a shutdown past its grace period: a hung gateway must not hold
  // it up.
  void abandon_writes() { writes_abandoned_ = true; }
  // The same for GET and HEAD: for the HTTP server's stop.
  void abandon_reads() { reads_abandoned_ = true; }

  const S3Credentials& credentials() const { return credentials_; }
  const std::string& region() const { return region_; }

 private:
  S3Response send_once(const std::string& method, const std::string& url,
                       const std::vector<std::string>& headers, std::string_view body);
  class PooledHandle;
  // The flag that abandons requests of `method`'s kind: reads (GET, HEAD) or writes.
  const std::atomic<bool>& abandon_flag(const std::string& method) const;
  CURL* acquire();
  void release(CURL* handle);

  S3Credentials credentials_;
  std::string region_;
  std::string sigv4_;  // "aws:amz:REGION:s3"
  S3ClientOptions options_;
  std::atomic<bool> writes_abandoned_{false};
  std::atomic<bool> reads_abandoned_{false};
  std::mutex mutex_;
  std::vector<CURL*> idle_;  // handles with their connections, waiting for a request
};

}  // namespace imgbatch::blob
