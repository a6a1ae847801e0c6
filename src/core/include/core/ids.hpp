// Identifiers: random (v4) UUIDs from libuuid, for request ids and webhook ids.
#pragma once

#include <string>
#include <string_view>

namespace imgbatch::core {

std::string new_uuid();
// Lower-case canonical 8-4-4-4-12 form; used to reject malformed ids before any lookup.
bool is_uuid(std::string_view s);

}  // namespace imgbatch::core
