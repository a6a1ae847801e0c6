// Temporary names record their writer, so start-up can remove what a killed process left
// without touching a put in progress elsewhere. Real processes: a child that has exited
// and one that is still running.
#include "blob/temporary_name.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>

namespace imgbatch::blob {
namespace {

using Clock = std::filesystem::file_time_type::clock;

std::string this_host() {
  const auto writer = parse_temporary_name(make_temporary_name());
  EXPECT_TRUE(writer.has_value());
  return writer ? writer->host : "";
}

std::string name_for(const std::string& host, pid_t pid) {
  return std::string(kTemporaryPrefix) + host + "-" + std::to_string(pid) + "-0123456789abcdef";
}

// A PID that belonged to a process that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(TemporaryName, RecordsThisHostAndProcessAndIsUniqueEachTime) {
  std::set<std::string> names;
  for (int i = 0; i < 100; ++i) {
    const std::string name = make_temporary_name();
    ASSERT_TRUE(name.starts_with(kTemporaryPrefix)) << name;
    EXPECT_EQ(name.find('/'), std::string::npos);
    const auto writer = parse_temporary_name(name);
    ASSERT_TRUE(writer.has_value()) << name;
    EXPECT_EQ(writer->pid, ::getpid());
    EXPECT_FALSE(writer->host.empty());
    EXPECT_EQ(writer->host.find('-'), std::string::npos);
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 100u);
}

TEST(TemporaryName, ParsesFromTheRightSoHostsMayContainDashes) {
  const auto writer = parse_temporary_name(".tmp-web-01.example-4242-deadbeef");
  ASSERT_TRUE(writer.has_value());
  EXPECT_EQ(writer->host, "web-01.example");
  EXPECT_EQ(writer->pid, 4242);
}

TEST(TemporaryName, OtherNamesRecordNoWriter) {
  for (const char* name : {".tmp-0123456789abcdef", ".tmp-host-0-ab", ".tmp-host-+1-ab",
                           ".tmp-host-12a-ab", ".tmp--12-ab", ".tmp-12-ab", "tmp-host-12-ab",
                           "a.jpg", ".tmp-host-99999999999999999999-ab"})
    EXPECT_FALSE(parse_temporary_name(name).has_value()) << name;
}

TEST(TemporaryName, WriterOnThisHostThatExitedIsGone) {
  EXPECT_TRUE(writer_is_gone(name_for(this_host(), dead_pid()), Clock::now()));
}

TEST(TemporaryName, WriterStillRunningIsNotGone) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  EXPECT_FALSE(writer_is_gone(name_for(this_host(), child), Clock::now()));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(writer_is_gone(name_for(this_host(), child), Clock::now()));
}

TEST(TemporaryName, ThisProcessIdIsGoneOnlyForFilesOlderThanThisProcess) {
  const std::string ours = name_for(this_host(), ::getpid());
  EXPECT_FALSE(writer_is_gone(ours, Clock::now()));
  EXPECT_TRUE(writer_is_gone(ours, Clock::now() - std::chrono::hours(24)));
}

TEST(TemporaryName, OtherHostsAndOldNamesAreNeverJudged) {
  const pid_t gone = dead_pid();
  EXPECT_FALSE(writer_is_gone(name_for(this_host() + "x", gone), Clock::now()));
  EXPECT_FALSE(writer_is_gone(".tmp-0123456789abcdef", Clock::now() - std::chrono::hours(24)));
}

}  // namespace
}  // namespace imgbatch::blob
