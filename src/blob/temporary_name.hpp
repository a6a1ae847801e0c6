// Names of the file backend's temporaries, and whether one was left by a dead writer.
//
// A put writes ".tmp-HOST-PID-RANDOM" and renames it into place. kill -9 between the two
// leaves the temporary behind. Its name says which process wrote it, so start-up can tell
// a leftover (its writer is gone) from a put in progress in another process sharing the
// folder (its writer is alive) at once, instead of waiting for it to grow old.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::blob {

// Names of temporaries start with this; no safe key does (keys never start with a dot).
inline constexpr std::string_view kTemporaryPrefix = ".tmp-";

struct TemporaryWriter {
  std::string host;
  pid_t pid = 0;
};

// A fresh temporary name for this process: ".tmp-HOST-PID-RANDOM" (HOST with anything
// outside [A-Za-z0-9.] replaced by '_').
std::string make_temporary_name();

// The writer a temporary's name records; nullopt for other names (including the
// ".tmp-RANDOM" names of older versions).
std::optional<TemporaryWriter> parse_temporary_name(std::string_view name);

// True when the process that wrote this temporary can no longer finish it: it ran on this
// host and is dead, or it had this process's PID but wrote before this process started
// (a restart that got the same PID, common in containers). Names from other hosts or
// older versions are never judged here: only their age can tell.
bool writer_is_gone(std::string_view name, std::filesystem::file_time_type modified);

}  // namespace imgbatch::blob
