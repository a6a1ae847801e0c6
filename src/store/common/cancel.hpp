// What cancelling a request (Store::cancel_request) means the same on every backend: the
// statuses that count as ended, and the error its dropped tasks end with.
#pragma once

#include <string_view>

#include "core/types.hpp"

namespace imgbatch::store::common {

// A stored status (core::RequestStatus's name) that core::has_ended counts as ended.
inline bool has_ended(std::string_view stored_status) {
  const auto status = core::parse_request_status(stored_status);
  return status && core::has_ended(*status);
}

// The error of a task dropped by a cancel: shown for its image in GET /status.
inline constexpr std::string_view kCancelledTaskError = "cancelled";

}  // namespace imgbatch::store::common
