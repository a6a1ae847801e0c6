// AWS Signature Version 4 pieces that libcurl does not provide: the query-string form
// (presigned URLs), and the hashes our PUTs carry. Written against the AWS documentation
// ("Authenticating Requests: Using Query Parameters") and tested with its published
// example. Request signing in the Authorization header is libcurl's (CURLOPT_AWS_SIGV4).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace imgbatch::blob {

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-lived keys
};

struct PresignRequest {
  std::string host;    // the Host header the client will send: "host[:port]"
  std::string path;    // canonical URI path, already percent-encoded: "/bucket/key"
  std::string region;  // e.g. "us-east-1"
  std::chrono::system_clock::time_point now;
  std::chrono::seconds expires;  // 1 s to 7 days (604800 s), SigV4's limits
};

// The query string (without '?') that makes a GET of `request.path` valid until
// now + expires: X-Amz-Algorithm, -Credential, -Date, -Expires, [-Security-Token,]
// -SignedHeaders=host and -Signature, with an unsigned payload.
std::string presign_get_query(const PresignRequest& request, const S3Credentials& credentials);

// Base64 MD5 of `bytes` (Content-MD5; the SHA-256 of x-amz-content-sha256 is
// core::sha256_hex).
std::string md5_base64(std::string_view bytes);

}  // namespace imgbatch::blob
