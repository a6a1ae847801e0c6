#include "logging.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace imgbatch {

namespace {

// {"time":"…","level":"info","message":"…"} per line; the message is escaped as JSON, which
// a pattern string cannot do.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        msg.time.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char time[40];
    const auto n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%03lldZ", static_cast<long long>(ms % 1000));
    nlohmann::json line = {{"time", time},
                           {"level", spdlog::level::to_string_view(msg.level)},
                           {"message", std::string(msg.payload.data(), msg.payload.size())}};
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void setup_logging(const std::string& format) {
  // Logs go to stderr so that stdout stays free for command output.
  auto logger = spdlog::stderr_logger_mt("imgbatch");
  if (format == "json")
    logger->set_formatter(std::make_unique<JsonFormatter>());
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
  if (const char* level = std::getenv("IMGBATCH_LOG_LEVEL"))
    spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace imgbatch
