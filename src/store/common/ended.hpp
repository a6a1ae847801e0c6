// Which request statuses are final, for both backends, in C++ and in SQL. core::has_ended
// decides; kEndedStatuses says the same for SQL (a test checks that they agree).
#pragma once

#include <string_view>

#include "core/types.hpp"

namespace imgbatch::store::common {

// For `status IN kEndedStatuses` in SQL. The partial index requests_ended (both schemas)
// repeats this list: a new final status needs it there too, or retention scans the table.
inline constexpr std::string_view kEndedStatuses = "('completed', 'failed', 'cancelled')";

// A stored status (core::RequestStatus's name) that core::has_ended counts as ended.
inline bool has_ended(std::string_view stored_status) {
  const auto status = core::parse_request_status(stored_status);
  return status && core::has_ended(*status);
}

}  // namespace imgbatch::store::common
