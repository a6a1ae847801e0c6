// Which request statuses are final: the one place both backends ask, in C++ and in SQL,
// so that a new final status (a cancelled request) is added once.
#pragma once

#include <string_view>

namespace imgbatch::store::common {

// For `status IN kEndedStatuses` in SQL.
inline constexpr std::string_view kEndedStatuses = "('completed', 'failed')";

inline bool has_ended(std::string_view status) {
  return status == "completed" || status == "failed";
}

}  // namespace imgbatch::store::common
