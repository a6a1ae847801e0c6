#include "logging/logging.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace imgbatch {

namespace {

// "2026-11-29T10:00:00.123Z"
std::string rfc3339_utc_ms(spdlog::log_clock::time_point at) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

// spdlog's own string_view type would be written as an array of character codes.
std::string level_name(spdlog::level::level_enum level) {
  const auto name = spdlog::level::to_string_view(level);
  return std::string(name.data(), name.size());
}

// One object per line; nlohmann escapes quotes, control characters and line breaks, and
// replaces bytes that are not UTF-8, which a pattern string could not do.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    // Fields in a fixed order, so a person reading the raw lines finds them quickly.
    nlohmann::ordered_json line;
    line["time"] = rfc3339_utc_ms(msg.time);
    line["level"] = level_name(msg.level);
    line["message"] = std::string(msg.payload.data(), msg.payload.size());
    if (const auto id = log::current_request_id(); !id.empty()) line["request_id"] = id;
    const auto text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// %Q in the text pattern: "request_id=ID " when the line is about a request, else nothing.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto id = log::current_request_id();
    if (id.empty()) return;
    constexpr std::string_view kKey = "request_id=";
    dest.append(kKey.data(), kKey.data() + kKey.size());
    dest.append(id.data(), id.data() + id.size());
    dest.push_back(' ');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

std::unique_ptr<spdlog::formatter> make_formatter(const std::string& format) {
  if (format == "json") return std::make_unique<JsonFormatter>();
  // UTC, like the JSON lines, so the two formats and several hosts line up.
  auto text = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  text->add_flag<RequestIdFlag>('Q');
  text->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %Q%v");
  return text;
}

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& format,
                                            spdlog::sink_ptr sink) {
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_formatter(make_formatter(format));
  return logger;
}

void setup_logging(const std::string& format, const std::string& level) {
  // Logs go to stderr so that stdout stays free for command output.
  auto logger = make_logger("imgbatch", format, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
  // spdlog takes an unknown name for "off"; the command line admits only kLogLevels.
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace imgbatch
