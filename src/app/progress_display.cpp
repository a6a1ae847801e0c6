#include "progress_display.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace imgbatch {

namespace {

// Erases from the cursor to the end of the line: a shorter line leaves no tail behind.
constexpr std::string_view kEraseToEnd = "\x1b[K";

std::string rate_text(double images_per_second) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f img/s", std::max(0.0, images_per_second));
  return text;
}

int percent(const ProgressSample& sample) {
  if (sample.total <= 0) return 100;
  return static_cast<int>(100LL * sample.done / sample.total);
}

}  // namespace

std::string format_duration(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0) return "--:--";
  const auto whole = static_cast<long long>(std::llround(*seconds));
  const long long hours = whole / 3600, minutes = whole / 60 % 60, secs = whole % 60;
  char text[40];
  if (hours > 0)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", hours, minutes, secs);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", minutes, secs);
  return text;
}

std::string format_bar_line(const ProgressSample& sample, double images_per_second, int bar_width) {
  bar_width = std::max(1, bar_width);
  const int filled =
      sample.total <= 0 ? bar_width
                        : static_cast<int>(static_cast<long long>(bar_width) *
                                           std::clamp(sample.done, 0, sample.total) / sample.total);
  std::optional<double> eta;
  if (sample.done >= sample.total)
    eta = 0.0;
  else if (images_per_second > 0)
    eta = (sample.total - sample.done) / images_per_second;

  std::string line = "[";
  line.append(static_cast<std::size_t>(filled), '#');
  line.append(static_cast<std::size_t>(bar_width - filled), '.');
  line += "] " + std::to_string(sample.done) + "/" + std::to_string(sample.total) + " images  " +
          rate_text(images_per_second) + "  ETA " + format_duration(eta);
  if (sample.failed > 0) line += "  " + std::to_string(sample.failed) + " failed";
  return line;
}

std::string format_plain_line(const ProgressSample& sample, double images_per_second) {
  std::string line = "progress: " + std::to_string(sample.done) + "/" +
                     std::to_string(sample.total) + " (" + std::to_string(percent(sample)) + "%) " +
                     rate_text(images_per_second);
  if (sample.failed > 0) line += ", " + std::to_string(sample.failed) + " failed";
  return line;
}

ProgressDisplay::ProgressDisplay(std::ostream& out, Mode mode, Clock::time_point start)
    : out_(out), mode_(mode), start_(start) {}

double ProgressDisplay::images_per_second(const ProgressSample& sample,
                                          Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int ended_here = sample.done - done_at_start_.value_or(sample.done);
  // Under a quarter second the count is too small to say anything but noise.
  if (elapsed < 0.25 || ended_here <= 0) return 0.0;
  return ended_here / elapsed;
}

void ProgressDisplay::update(const ProgressSample& sample, Clock::time_point now) {
  if (!done_at_start_) done_at_start_ = sample.done;
  if (mode_ == Mode::bar) {
    write_bar(sample, now);
    return;
  }
  const int tenth = sample.total > 0 ? static_cast<int>(10LL * sample.done / sample.total) : 10;
  // The first line says at once that work has started; a line every interval, even
  // with nothing new, tells a reader of the log that the run is alive (a slow host).
  const bool due = !last_line_at_ || now - *last_line_at_ >= kLineInterval;
  if (due || tenth > last_line_tenth_) write_line(sample, now);
}

void ProgressDisplay::finish(const ProgressSample& sample, Clock::time_point now) {
  if (!done_at_start_) done_at_start_ = sample.done;
  if (mode_ == Mode::bar) {
    write_bar(sample, now);
    if (bar_drawn_) out_ << '\n';
    bar_drawn_ = false;
  } else if (sample.done != last_line_done_) {
    write_line(sample, now);
  }
  out_.flush();
}

void ProgressDisplay::write_bar(const ProgressSample& sample, Clock::time_point now) {
  auto line = format_bar_line(sample, images_per_second(sample, now));
  if (bar_drawn_ && line == last_bar_) return;
  out_ << '\r' << line << kEraseToEnd;
  out_.flush();
  last_bar_ = std::move(line);
  bar_drawn_ = true;
}

void ProgressDisplay::write_line(const ProgressSample& sample, Clock::time_point now) {
  out_ << format_plain_line(sample, images_per_second(sample, now)) << '\n';
  out_.flush();
  last_line_at_ = now;
  last_line_done_ = sample.done;
  last_line_tenth_ = sample.total > 0 ? static_cast<int>(10LL * sample.done / sample.total) : 10;
}

}  // namespace imgbatch
