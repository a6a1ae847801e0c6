// TestOrigin: a small HTTP/1.1 server on 127.0.0.1 (port 0, so tests never collide) that
// stands in for the image hosts of a CSV, in tests only. Plain POSIX sockets, one thread
// to accept and one per connection, keep-alive supported. It serves files from a
// directory and has routes that misbehave the way real hosts do, and it counts what it
// saw so tests can assert on retries, connection reuse and concurrency.
//
// Routes (any ?query is ignored except where noted, so /photos/a.jpg?v=1 and ?v=2 are
// distinct URLs for the same file):
//   /photos/NAME            the file NAME, Content-Type by extension (no validators)
//   /validated/NAME         the file NAME with an ETag (from its bytes) and a Last-Modified;
//                           304 without a body to If-None-Match naming that ETag (or, without
//                           If-None-Match, to If-Modified-Since equal to that date)
//   /alias/KEY              as /validated/ for the file set_alias(KEY, …) names (default KEY):
//                           a URL whose bytes change when the test says so
//   /status/NNN             status NNN with a small text body
//   /flaky/N/NAME           500 for the first N requests of this path, then the file
//   /retry-after/S/NAME     first request: 503 with "Retry-After: S" (S percent-decoded,
//                           so an HTTP-date can be given), then the file
//   /sleep/MS/NAME          waits MS milliseconds, then the file
//   /hold/NAME              waits until /release is requested, then the file
//   /release                wakes every /hold request, now and later
//   /slow/BPS/NAME          headers at once, then BPS bytes of the file per second
//   /short/NAME             Content-Length of the whole file, half of it, then closes
//   /huge                   Content-Length: 10000000000, zeros until the client leaves
//   /stream                 chunked zeros without end (no Content-Length)
//   /stream/BYTES           chunked, exactly BYTES zeros
//   /random                 65536 random bytes labelled image/jpeg
//   /html                   an HTML page
//   /redirect/N/NAME        a chain of N 302s ending at /photos/NAME
//   /redirect-to?url=URL    302 to URL (percent-decoded)
// Anything else is 404. The destructor wakes every sleeping or streaming connection and
// joins all threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace imgbatch::test_support {

class TestOrigin {
 public:
  // Serves files from `files_dir` (default: the shared test photos).
  explicit TestOrigin(std::filesystem::path files_dir = photos_dir());
  ~TestOrigin();
  TestOrigin(const TestOrigin&) = delete;
  TestOrigin& operator=(const TestOrigin&) = delete;

  std::uint16_t port() const;
  std::string base_url() const;                  // "http://127.0.0.1:PORT"
  std::string url(std::string_view path) const;  // base_url() + path

  // Requests received for a path (without its query), and in all.
  std::size_t request_count(std::string_view path) const;
  std::size_t total_requests() const;
  // TCP connections accepted: fewer than requests means keep-alive reuse.
  std::size_t connections_accepted() const;
  // Most requests being worked on at the same moment (a request counts from the end of
  // its headers until its response starts to be written, so sleeping routes show overlap).
  std::size_t max_concurrent_requests() const;
  // 304 answers sent by /validated/ and /alias/ (requests answered without the bytes).
  std::size_t not_modified_responses() const;
  // /alias/KEY serves the file NAME from now on.
  void set_alias(std::string_view key, std::string_view name);
  void reset_stats();

  static std::filesystem::path photos_dir();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace imgbatch::test_support
