// RequestScanner: follows the bytes of a connection's requests as they arrive, before
// RESTinio's parser sees them, to act between a request's head and its body (RESTinio 0.6
// has no hook there): answer "100 Continue", or refuse a body over the limit with a 413 (or
// an unknown expectation with a 417) instead of letting RESTinio drop the connection.
//
// It knows only enough HTTP/1.1 framing to find where each head ends and how long its body
// is (Content-Length, or chunked: it counts the chunks' bytes). Anything it cannot follow
// (a head too long, a malformed chunk size) it passes through untouched from then on, and
// RESTinio's parser answers as before.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace imgbatch::http {

class RequestScanner {
 public:
  enum class Event {
    kNone,      // all input used; nothing to do
    kContinue,  // a head asking for "100 Continue" was released: send it before more input
    kRefuse,    // refuse this request (status, detail); nothing more may be released
  };
  struct Step {
    std::size_t used = 0;  // bytes of the input consumed
    Event event = Event::kNone;
    int status = 0;      // for kRefuse: 413 or 417
    std::string detail;  // for kRefuse: what was wrong, for the problem+json
  };

  explicit RequestScanner(std::uint64_t max_body) : max_body_(max_body) {}

  // Scans `input`, appending to `released` the bytes that may go on to RESTinio; stops right
  // after an event. A head is held back until it is complete, so a refused request's head
  // never reaches RESTinio.
  Step feed(std::string_view input, std::string& released);

 private:
  enum class State {
    kHead,
    kFixedBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kPassThrough,
    kRefused
  };

  Step end_of_head(std::size_t used, std::string& released);

  std::uint64_t max_body_;
  State state_ = State::kHead;
  std::string head_;             // the head so far
  std::uint64_t remaining_ = 0;  // of a Content-Length body or of the current chunk
  std::uint64_t chunked_total_ = 0;
  std::uint64_t chunk_size_ = 0;
  bool chunk_size_digits_ = false;
  bool chunk_extension_ = false;
  std::size_t trailer_line_ = 0;  // bytes in the current trailer line, CR not counted
};

}  // namespace imgbatch::http
