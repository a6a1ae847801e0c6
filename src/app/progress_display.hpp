// How far `imgbatch process` has got, on stderr. On a terminal: one line redrawn in place
// ("[#####.....] 123/700 images  45.6 img/s  ETA 0:12"); anywhere else (a log file, CI):
// a plain line every few seconds and at every tenth of the way, so a log stays short and
// greppable. The speed counts only the images ended since this run started, so a resumed
// run does not claim the earlier run's work as its own speed. Time is passed in, which
// keeps the throttling testable.
#pragma once

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

namespace imgbatch {

struct ProgressSample {
  int done = 0;    // images ended, succeeded or failed
  int failed = 0;  // of those, how many failed
  int total = 0;
};

// "0:12", "12:05", "1:02:03"; "--:--" when unknown.
std::string format_duration(std::optional<double> seconds);

// "[#####.....] 123/700 images  45.6 img/s  ETA 0:12", plus "  3 failed" when some did.
// The ETA is unknown ("--:--") until the speed is above zero.
std::string format_bar_line(const ProgressSample& sample, double images_per_second,
                            int bar_width = 30);

// "progress: 123/700 (17%) 45.6 img/s", plus ", 3 failed" when some did.
std::string format_plain_line(const ProgressSample& sample, double images_per_second);

class ProgressDisplay {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Mode { bar, lines };

  // A plain line at least this often while work goes on (and at every 10 %).
  static constexpr std::chrono::seconds kLineInterval{2};

  ProgressDisplay(std::ostream& out, Mode mode, Clock::time_point start);

  // Call a few times a second; writes only when there is something to show.
  void update(const ProgressSample& sample, Clock::time_point now);
  // Shows the last state and ends the line, so what follows starts on a line of its own.
  void finish(const ProgressSample& sample, Clock::time_point now);

  double images_per_second(const ProgressSample& sample, Clock::time_point now) const;

 private:
  void write_bar(const ProgressSample& sample, Clock::time_point now);
  void write_line(const ProgressSample& sample, Clock::time_point now);

  std::ostream& out_;
  Mode mode_;
  Clock::time_point start_;
  std::optional<int> done_at_start_;  // the first sample's count: earlier runs' work
  std::string last_bar_;
  bool bar_drawn_ = false;
  std::optional<Clock::time_point> last_line_at_;
  int last_line_done_ = -1;
  int last_line_tenth_ = -1;
};

}  // namespace imgbatch
