// Log set-up and the request id that lines about a request carry.
//
// Formats: `text` ("2026-11-29T10:00:00.123Z info  request_id=ID message") or `json`, one
// object per line: {"time": RFC 3339 UTC with milliseconds, "level", "message",
// "request_id" when the line is about a request}. Either goes to stderr.
//
// The id is not written into each message: code says which request it works for and the
// formatter adds the field. `log::for_request(id).info(...)` logs one line for a request;
// a `log::RequestScope` makes every line the thread logs meanwhile (in libraries too, such
// as a curl callback) carry the id. The id lives in a thread-local, which works because
// the loggers format synchronously on the calling thread; an asynchronous logger would
// lose it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

namespace imgbatch {

// `format`: "json" or anything else for text; `level`: one of kLogLevels. Installs the
// default logger (stderr).
void setup_logging(const std::string& format, const std::string& level);

// The levels setup_logging takes, least severe first.
inline constexpr const char* kLogLevels[] = {"trace", "debug",    "info", "warn",
                                             "error", "critical", "off"};

// A logger in that format writing to `sink`; setup_logging uses it with stderr, tests
// with a string sink.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& format,
                                            spdlog::sink_ptr sink);

}  // namespace imgbatch

namespace imgbatch::log {

namespace detail {
inline thread_local std::string current_request_id;
}

// The request this thread's log lines are about; empty when none.
inline std::string_view current_request_id() { return detail::current_request_id; }

// While alive, the thread's log lines carry `id`; the id before it comes back at the end,
// so scopes nest.
class RequestScope {
 public:
  explicit RequestScope(std::string_view id)
      : previous_(std::exchange(detail::current_request_id, std::string(id))) {}
  ~RequestScope() { detail::current_request_id = std::move(previous_); }
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string previous_;
};

// Names the request of the innermost RequestScope once it is known (an upload learns its
// id halfway); call it only inside a RequestScope, which clears it again at its end.
inline void bind_request_id(std::string_view id) { detail::current_request_id = id; }

// Lines about one request: log::for_request(id).info("image {} failed: {}", i, why).
class RequestLog {
 public:
  explicit RequestLog(std::string_view id) : id_(id) {}

  template <typename... Args>
  void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) const {
    write(spdlog::level::debug, fmt, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(spdlog::format_string_t<Args...> fmt, Args&&... args) const {
    write(spdlog::level::info, fmt, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) const {
    write(spdlog::level::warn, fmt, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(spdlog::format_string_t<Args...> fmt, Args&&... args) const {
    write(spdlog::level::err, fmt, std::forward<Args>(args)...);
  }

 private:
  template <typename... Args>
  void write(spdlog::level::level_enum level, spdlog::format_string_t<Args...> fmt,
             Args&&... args) const {
    if (!spdlog::should_log(level)) return;
    RequestScope scope(id_);
    spdlog::log(level, fmt, std::forward<Args>(args)...);
  }

  std::string_view id_;
};

inline RequestLog for_request(std::string_view id) { return RequestLog(id); }

}  // namespace imgbatch::log
