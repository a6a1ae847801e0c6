// What cancelling a request (Store::cancel_request) needs the same on every backend: the
// statuses that count as ended. (Its dropped tasks end with the error "cancelled", written
// by each backend's SQL.)
#pragma once

#include <string_view>

#include "core/types.hpp"

namespace imgbatch::store::common {

// A stored status (core::RequestStatus's name) that core::has_ended counts as ended.
inline bool has_ended(std::string_view stored_status) {
  const auto status = core::parse_request_status(stored_status);
  return status && core::has_ended(*status);
}

}  // namespace imgbatch::store::common
