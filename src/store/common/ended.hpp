// Which request statuses are final: the one place both backends ask, in C++ and in SQL,
// so that a new final status (a cancelled request) is added once.
#pragma once

#include <string_view>

namespace imgbatch::store::common {

// For `status IN kEndedStatuses` in SQL. The partial index requests_ended (both schemas)
// repeats this list: a new final status needs it there too, or retention scans the table.
inline constexpr std::string_view kEndedStatuses = "('completed', 'failed')";

inline bool has_ended(std::string_view status) {
  return status == "completed" || status == "failed";
}

}  // namespace imgbatch::store::common
