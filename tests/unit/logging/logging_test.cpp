#include "logging/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace imgbatch {
namespace {

constexpr const char* kId = "5b1c0d3e-8f4a-4c1e-9d2b-0a1b2c3d4e5f";

// Installs a logger writing to a string as the default one, as setup_logging does for
// stderr, and puts the previous default back afterwards.
class CapturedLog {
 public:
  explicit CapturedLog(const std::string& format)
      : previous_(spdlog::default_logger()),
        logger_(make_logger("test-" + format, format,
                            std::make_shared<spdlog::sinks::ostream_sink_mt>(out_))) {
    logger_->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger_);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }

  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::logger> logger_;
};

std::vector<nlohmann::json> json_lines(const CapturedLog& log) {
  std::vector<nlohmann::json> out;
  for (const auto& line : log.lines()) {
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not one JSON object: " << line << " (" << e.what() << ")";
    }
  }
  return out;
}

TEST(JsonLogs, OneObjectPerLineWithTimeLevelAndMessage) {
  CapturedLog log("json");
  spdlog::info("plain {}", 1);
  spdlog::warn("second");
  const auto lines = json_lines(log);
  ASSERT_EQ(lines.size(), 2u) << log.text();
  EXPECT_EQ(lines[0]["message"], "plain 1");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[1]["level"], "warning");
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(lines[0]["time"].get<std::string>(), rfc3339)) << lines[0];
  EXPECT_FALSE(lines[0].contains("request_id")) << "a line about no request has no id";
}

TEST(JsonLogs, QuotesLineBreaksControlCharactersAndBadUtf8StayInOneLine) {
  CapturedLog log("json");
  const std::string nasty = "say \"hi\"\nsecond line\r\tand \\ backslash \x01 and \xff\xfe";
  spdlog::error("{}", nasty);
  log::for_request("id \"with\" quotes\n").info("x");
  const auto raw = log.lines();
  ASSERT_EQ(raw.size(), 2u) << log.text();
  const auto lines = json_lines(log);
  ASSERT_EQ(lines.size(), 2u);
  const auto message = lines[0]["message"].get<std::string>();
  const auto valid = nasty.find('\xff');
  EXPECT_EQ(message.substr(0, valid), nasty.substr(0, valid)) << "escaped and read back intact";
  EXPECT_NE(message.substr(valid), nasty.substr(valid)) << "bytes that are not UTF-8 are replaced";
  EXPECT_EQ(lines[1]["request_id"], "id \"with\" quotes\n");
}

TEST(JsonLogs, LinesForARequestCarryItsId) {
  CapturedLog log("json");
  log::for_request(kId).info("image {} failed: {}", 3, "download failed: HTTP 404");
  spdlog::info("not about a request");
  {
    log::RequestScope scope(kId);
    spdlog::warn("inside a scope");
    {
      log::RequestScope inner("other-id");
      spdlog::info("nested");
    }
    spdlog::info("back to the outer id");
  }
  {
    log::RequestScope scope("");
    spdlog::info("before the id is known");
    log::bind_request_id(kId);
    spdlog::info("after");
  }
  spdlog::info("after every scope");

  const auto lines = json_lines(log);
  ASSERT_EQ(lines.size(), 8u) << log.text();
  const std::regex field_order(R"(\{"time":"[^"]+","level":"info",)"
                               R"("message":"image 3 failed: .*","request_id":"[^"]+"\})");
  EXPECT_TRUE(std::regex_match(log.lines()[0], field_order)) << log.lines()[0];
  EXPECT_EQ(lines[0]["request_id"], kId);
  EXPECT_EQ(lines[0]["message"], "image 3 failed: download failed: HTTP 404");
  EXPECT_FALSE(lines[1].contains("request_id"));
  EXPECT_EQ(lines[2]["request_id"], kId);
  EXPECT_EQ(lines[3]["request_id"], "other-id");
  EXPECT_EQ(lines[4]["request_id"], kId);
  EXPECT_FALSE(lines[5].contains("request_id"));
  EXPECT_EQ(lines[6]["request_id"], kId);
  EXPECT_FALSE(lines[7].contains("request_id"));
}

TEST(JsonLogs, TheIdBelongsToTheThreadThatSetIt) {
  CapturedLog log("json");
  log::RequestScope scope(kId);
  std::thread([] { spdlog::info("another thread"); }).join();
  spdlog::info("this thread");
  const auto lines = json_lines(log);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].contains("request_id"));
  EXPECT_EQ(lines[1]["request_id"], kId);
}

TEST(JsonLogs, ALevelThatIsOffWritesNothing) {
  CapturedLog log("json");
  spdlog::set_level(spdlog::level::info);
  log::for_request(kId).debug("hidden {}", 1);
  log::for_request(kId).error("shown");
  const auto lines = json_lines(log);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "error");
}

TEST(TextLogs, UtcTimeLevelThenTheRequestIdAsAField) {
  CapturedLog log("text");
  log::for_request(kId).info("completed");
  spdlog::warn("no request");
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2u) << log.text();
  const std::regex with_id(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  request_id=)" +
                           std::string(kId) + " completed");
  EXPECT_TRUE(std::regex_match(lines[0], with_id)) << lines[0];
  const std::regex without(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning no request)");
  EXPECT_TRUE(std::regex_match(lines[1], without)) << lines[1];
}

}  // namespace
}  // namespace imgbatch
