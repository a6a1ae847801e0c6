// `imgbatch process FILE.csv --out DIR`: the whole pipeline in one process, without a
// server. The CSV is validated as POST /upload does (every problem printed as
// FILE:LINE: …); its images are downloaded and compressed into DIR/images/, and
// DIR/output.csv lists them by relative path. The state lives in DIR/.imgbatch/ (SQLite),
// so a run that was interrupted or killed carries on where it stopped when the same
// command is run again, and a finished one is not redone. DIR belongs to one CSV (and one
// quality/format): another CSV is refused, so results never mix.
//
// The caller blocks SIGINT and SIGTERM before starting any thread (as for `serve`, see
// shutdown_signals.hpp); run_process takes them synchronously and stops gracefully.
#pragma once

#include <string>

#include "core/config.hpp"

namespace imgbatch {

// Exit codes of `imgbatch process` (documented in docs/API.md and in --help).
namespace process_exit {
inline constexpr int kAllSucceeded = 0;
inline constexpr int kSomeFailed = 1;     // every image ended, at least one failed
inline constexpr int kBadInput = 2;       // unreadable or invalid CSV, bad usage, DIR unusable
inline constexpr int kInternalError = 3;  // the state database failed, or another internal error
// Interrupted by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
}  // namespace process_exit

struct ProcessArgs {
  std::string csv_path;
  std::string out_dir;
  core::Config config;  // workers, downloads, limits, quality, format
};

// Returns the exit code; prints its messages itself (stderr, the summary on stdout).
int run_process(const ProcessArgs& args);

}  // namespace imgbatch
