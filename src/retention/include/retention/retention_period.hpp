// How long requests are kept after they end (`serve --retention`, docs/configuration.md).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace imgbatch::retention {

// "0" (keep everything, returned as zero) or a whole number with a unit — s, m, h or d —
// of at most 36,500 days: "30d", "12h", "90m", "3600s". Nullopt for anything else (no unit,
// a sign, a fraction, spaces, too long), so that a typo never deletes sooner than meant.
std::optional<std::chrono::milliseconds> parse_retention(std::string_view text);

// Why `text` is not a retention period, for the CLI's error message.
inline constexpr std::string_view kRetentionFormat =
    "a whole number with a unit s, m, h or d (e.g. 30d), or 0 to keep everything";

}  // namespace imgbatch::retention
