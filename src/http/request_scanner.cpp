#include "request_scanner.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

namespace imgbatch::http {

namespace {

// A head longer than this is RESTinio's to refuse (its own field limits are smaller).
constexpr std::size_t kMaxHead = std::size_t{1024} * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

bool head_complete(const std::string& head) {
  const std::string_view h = head;
  return h.ends_with("\n\n") || h.ends_with("\n\r\n");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string too_large(std::string_view size, std::uint64_t max_body) {
  return "the request body is " + std::string(size) + "; the limit is " + std::to_string(max_body) +
         " bytes (--max-upload-bytes)";
}

}  // namespace

RequestScanner::Step RequestScanner::feed(std::string_view input, std::string& released) {
  std::size_t i = 0;
  const auto refuse = [&](int status, std::string detail) {
    state_ = State::kRefused;
    head_.clear();
    return Step{i, Event::kRefuse, status, std::move(detail)};
  };
  while (i < input.size()) {
    switch (state_) {
      case State::kPassThrough:
      case State::kRefused:  // the connection is being closed; nothing more goes on
        if (state_ == State::kPassThrough) released.append(input.substr(i));
        return Step{input.size(), Event::kNone, 0, {}};
      case State::kHead: {
        const char c = input[i++];
        // Empty lines between requests are allowed (RFC 9112 2.2); RESTinio skips them too.
        if (head_.empty() && (c == '\r' || c == '\n')) {
          released.push_back(c);
          break;
        }
        head_.push_back(c);
        if (head_complete(head_)) {
          auto step = end_of_head(i, released);
          if (step.event != Event::kNone) return step;
        } else if (head_.size() > kMaxHead) {
          released += head_;
          head_.clear();
          state_ = State::kPassThrough;
        }
        break;
      }
      case State::kFixedBody:
      case State::kChunkData: {
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size() - i));
        released.append(input.substr(i, take));
        i += take;
        remaining_ -= take;
        if (remaining_ == 0)
          state_ = state_ == State::kFixedBody ? State::kHead : State::kChunkDataEnd;
        break;
      }
      case State::kChunkDataEnd: {
        const char c = input[i++];
        released.push_back(c);
        if (c == '\n') state_ = State::kChunkSize;
        break;
      }
      case State::kChunkSize: {
        const char c = input[i];
        const int digit = hex_value(c);
        if (digit >= 0 && !chunk_extension_) {
          chunk_size_ = chunk_size_ * 16 + static_cast<std::uint64_t>(digit);
          chunk_size_digits_ = true;
          // Refuse as soon as the size alone says it is too much (and before it overflows).
          if (chunk_size_ > max_body_ || chunked_total_ + chunk_size_ > max_body_)
            return refuse(413, too_large("chunked and over the limit", max_body_));
        } else if (c == ';' || c == ' ' || c == '\t') {
          chunk_extension_ = true;
        } else if (c == '\n') {
          if (!chunk_size_digits_) {
            state_ = State::kPassThrough;  // malformed: RESTinio's parser says so
            break;
          }
          chunked_total_ += chunk_size_;
          remaining_ = chunk_size_;
          state_ = chunk_size_ == 0 ? State::kTrailers : State::kChunkData;
          chunk_size_ = 0;
          chunk_size_digits_ = chunk_extension_ = false;
          trailer_line_ = 0;
        } else if (c != '\r' && !chunk_extension_) {
          state_ = State::kPassThrough;
          break;
        }
        released.push_back(c);
        ++i;
        break;
      }
      case State::kTrailers: {
        const char c = input[i++];
        released.push_back(c);
        if (c == '\n') {
          if (trailer_line_ == 0) state_ = State::kHead;
          trailer_line_ = 0;
        } else if (c != '\r') {
          ++trailer_line_;
        }
        break;
      }
    }
  }
  return Step{i, Event::kNone, 0, {}};
}

RequestScanner::Step RequestScanner::end_of_head(std::size_t used, std::string& released) {
  std::optional<std::uint64_t> content_length;
  bool chunked = false, expect_continue = false, upgrade = false;
  std::string unknown_expectation;
  std::string_view rest = head_;
  rest.remove_prefix(std::min(rest.size(), rest.find('\n') + 1));  // the request line
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const auto line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = lower(trim(line.substr(0, colon)));
    const auto value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      std::uint64_t n = 0;
      bool digits = !value.empty();
      for (const char c : value) {
        if (c < '0' || c > '9') {
          digits = false;
          break;
        }
        const auto d = static_cast<std::uint64_t>(c - '0');
        n = n > (std::numeric_limits<std::uint64_t>::max() - d) / 10
                ? std::numeric_limits<std::uint64_t>::max()
                : n * 10 + d;
      }
      // A malformed length is RESTinio's parser's to reject (400 or a close).
      if (digits) content_length = std::max(content_length.value_or(0), n);
    } else if (name == "transfer-encoding") {
      const auto codings = lower(value);
      const auto last = trim(std::string_view(codings).substr(codings.rfind(',') + 1));
      chunked = last == "chunked";
    } else if (name == "expect") {
      if (lower(value) == "100-continue")
        expect_continue = true;
      else
        unknown_expectation = std::string(value);
    } else if (name == "upgrade") {
      upgrade = true;
    }
  }

  Step step{used, Event::kNone, 0, {}};
  if (!unknown_expectation.empty()) {
    state_ = State::kRefused;
    head_.clear();
    return Step{
        used, Event::kRefuse, 417,
        "the expectation \"" + unknown_expectation + "\" is not supported; only 100-continue is"};
  }
  if (!chunked && content_length && *content_length > max_body_) {
    state_ = State::kRefused;
    head_.clear();
    return Step{used, Event::kRefuse, 413,
                too_large(std::to_string(*content_length) + " bytes", max_body_)};
  }
  released += head_;
  head_.clear();
  if (upgrade) {
    state_ = State::kPassThrough;  // what follows is not HTTP/1.1 framing
  } else if (chunked) {
    state_ = State::kChunkSize;
    chunked_total_ = 0;
  } else if (content_length.value_or(0) > 0) {
    state_ = State::kFixedBody;
    remaining_ = *content_length;
  }
  if (expect_continue && state_ != State::kHead && state_ != State::kPassThrough)
    step.event = Event::kContinue;
  return step;
}

}  // namespace imgbatch::http
