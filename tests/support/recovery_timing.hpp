// Recovery times measured by the kill -9 end-to-end tests (crash_e2e_test,
// postgres_e2e_test). A test measures one round by default; with IMGBATCH_RECOVERY_ROUNDS=N
// (make bench sets it) it repeats the measurement N times. Either way it prints
//   [recovery] NAME: median X.XX s over N run(s) (a, b, c)
// which bench/run.sh collects for BENCHMARKS.md.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace imgbatch::test_support {

inline int recovery_rounds() {
  const char* text = std::getenv("IMGBATCH_RECOVERY_ROUNDS");
  const int rounds = text ? std::atoi(text) : 1;
  return std::clamp(rounds, 1, 50);
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline void report_recovery(const std::string& name, std::vector<double> seconds) {
  if (seconds.empty()) return;
  std::string all;
  for (const double s : seconds) {
    char one[32];
    std::snprintf(one, sizeof one, "%s%.2f", all.empty() ? "" : ", ", s);
    all += one;
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds.size() % 2 == 1
                            ? seconds[seconds.size() / 2]
                            : (seconds[seconds.size() / 2 - 1] + seconds[seconds.size() / 2]) / 2;
  std::printf("[recovery] %s: median %.2f s over %zu run(s) (%s)\n", name.c_str(), median,
              seconds.size(), all.c_str());
  std::fflush(stdout);
}

}  // namespace imgbatch::test_support
