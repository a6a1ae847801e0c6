#include "core/types.hpp"

#include <chrono>
#include <ctime>

namespace imgbatch::core {

TimeMs now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_iso8601(TimeMs t) {
  const auto seconds = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {
template <class E, std::size_t N>
std::optional<E> parse_enum(std::string_view s, const std::string_view (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}
constexpr std::string_view kRequestStatusNames[] = {"pending", "processing", "completed", "failed",
                                                    "cancelled"};
constexpr std::string_view kTaskStateNames[] = {"pending", "running", "done", "failed"};
constexpr std::string_view kReuseNames[] = {"", "304", "same-bytes", "duplicate"};
constexpr std::string_view kFormatNames[] = {"jpeg", "webp", "avif", "png", "keep", "best"};
}  // namespace

std::string_view to_string(RequestStatus s) { return kRequestStatusNames[static_cast<int>(s)]; }
std::optional<RequestStatus> parse_request_status(std::string_view s) {
  return parse_enum<RequestStatus>(s, kRequestStatusNames);
}
bool has_ended(RequestStatus s) {
  return s == RequestStatus::completed || s == RequestStatus::failed ||
         s == RequestStatus::cancelled;
}
std::string_view to_string(TaskState s) { return kTaskStateNames[static_cast<int>(s)]; }
std::optional<TaskState> parse_task_state(std::string_view s) {
  return parse_enum<TaskState>(s, kTaskStateNames);
}
std::string_view to_string(Reuse r) { return kReuseNames[static_cast<int>(r)]; }
std::optional<Reuse> parse_reuse(std::string_view s) { return parse_enum<Reuse>(s, kReuseNames); }
std::string_view to_string(ImageFormat f) { return kFormatNames[static_cast<int>(f)]; }
std::optional<ImageFormat> parse_image_format(std::string_view s) {
  if (s == "jpg") return ImageFormat::jpeg;
  return parse_enum<ImageFormat>(s, kFormatNames);
}

}  // namespace imgbatch::core
