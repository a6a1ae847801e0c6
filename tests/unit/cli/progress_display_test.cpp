// The progress of `imgbatch process`: the bar and plain lines as text, and when each mode
// writes, with time passed in rather than waited for.
#include "progress_display.hpp"

#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>

namespace imgbatch {
namespace {

using namespace std::chrono_literals;
using Clock = ProgressDisplay::Clock;

std::size_t count_of(const std::string& text, char c) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), c));
}

TEST(FormatDuration, MinutesAndSecondsThenHours) {
  EXPECT_EQ(format_duration(0.0), "0:00");
  EXPECT_EQ(format_duration(12.4), "0:12");
  EXPECT_EQ(format_duration(725.0), "12:05");
  EXPECT_EQ(format_duration(3723.0), "1:02:03");
  EXPECT_EQ(format_duration(std::nullopt), "--:--");
  EXPECT_EQ(format_duration(-1.0), "--:--");
}

TEST(FormatBarLine, ShowsTheBarCountsSpeedAndEta) {
  // 577 images left at 45.6 img/s: 12.65 s.
  EXPECT_EQ(format_bar_line({123, 0, 700}, 45.6, 10),
            "[#.........] 123/700 images  45.6 img/s  ETA 0:13");
  EXPECT_EQ(format_bar_line({350, 0, 700}, 10.0, 10),
            "[#####.....] 350/700 images  10.0 img/s  ETA 0:35");
  EXPECT_EQ(format_bar_line({700, 0, 700}, 3.0, 10),
            "[##########] 700/700 images  3.0 img/s  ETA 0:00");
}

TEST(FormatBarLine, EtaIsUnknownBeforeAnySpeedAndFailuresAreCounted) {
  EXPECT_EQ(format_bar_line({0, 0, 4}, 0.0, 4), "[....] 0/4 images  0.0 img/s  ETA --:--");
  EXPECT_EQ(format_bar_line({2, 1, 4}, 1.0, 4), "[##..] 2/4 images  1.0 img/s  ETA 0:02  1 failed");
}

TEST(FormatPlainLine, ShowsCountsPercentAndSpeed) {
  EXPECT_EQ(format_plain_line({123, 0, 700}, 45.6), "progress: 123/700 (17%) 45.6 img/s");
  EXPECT_EQ(format_plain_line({3, 2, 3}, 0.5), "progress: 3/3 (100%) 0.5 img/s, 2 failed");
}

TEST(ProgressDisplay, PlainLinesAtTheStartEveryTenthAndEveryFewSeconds) {
  std::ostringstream out;
  const auto t0 = Clock::now();
  ProgressDisplay display(out, ProgressDisplay::Mode::lines, t0);
  display.update({0, 0, 100}, t0);
  EXPECT_EQ(count_of(out.str(), '\n'), 1u) << out.str();  // started
  display.update({1, 0, 100}, t0 + 100ms);
  display.update({5, 0, 100}, t0 + 200ms);
  EXPECT_EQ(count_of(out.str(), '\n'), 1u) << out.str();  // nothing worth a line yet
  display.update({10, 0, 100}, t0 + 300ms);
  EXPECT_EQ(count_of(out.str(), '\n'), 2u) << out.str();  // a tenth of the way
  display.update({11, 0, 100}, t0 + 400ms);
  EXPECT_EQ(count_of(out.str(), '\n'), 2u) << out.str();
  display.update({12, 0, 100}, t0 + 300ms + ProgressDisplay::kLineInterval);
  EXPECT_EQ(count_of(out.str(), '\n'), 3u) << out.str();  // the interval passed
  display.finish({100, 0, 100}, t0 + 10s);
  EXPECT_EQ(count_of(out.str(), '\n'), 4u) << out.str();
  EXPECT_NE(out.str().find("progress: 100/100 (100%) 10.0 img/s\n"), std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos) << "no terminal codes in a log";
}

TEST(ProgressDisplay, BarIsRedrawnInPlaceAndEndedOnce) {
  std::ostringstream out;
  const auto t0 = Clock::now();
  ProgressDisplay display(out, ProgressDisplay::Mode::bar, t0);
  display.update({0, 0, 10}, t0);
  display.update({0, 0, 10}, t0 + 100ms);  // the same text: not redrawn
  EXPECT_EQ(count_of(out.str(), '\r'), 1u) << out.str();
  display.update({5, 0, 10}, t0 + 1s);
  EXPECT_EQ(count_of(out.str(), '\r'), 2u) << out.str();
  EXPECT_EQ(out.str().find('\n'), std::string::npos) << "the bar stays on its line";
  EXPECT_NE(out.str().find("\r[###############...............] 5/10 images  5.0 img/s  ETA 0:01"),
            std::string::npos)
      << out.str();
  display.finish({10, 0, 10}, t0 + 2s);
  EXPECT_EQ(out.str().back(), '\n');
  EXPECT_EQ(count_of(out.str(), '\n'), 1u);
  EXPECT_NE(out.str().find("10/10 images"), std::string::npos) << out.str();
}

TEST(ProgressDisplay, SpeedCountsOnlyThisRunsImages) {
  std::ostringstream out;
  const auto t0 = Clock::now();
  ProgressDisplay display(out, ProgressDisplay::Mode::lines, t0);
  display.update({50, 0, 100}, t0);  // resumed: half was done by an earlier run
  EXPECT_DOUBLE_EQ(display.images_per_second({60, 0, 100}, t0 + 2s), 5.0);
  EXPECT_DOUBLE_EQ(display.images_per_second({50, 0, 100}, t0 + 2s), 0.0);
}

}  // namespace
}  // namespace imgbatch
