#include "common/new_request.hpp"

#include "core/ids.hpp"
#include "string_list_json.hpp"

namespace imgbatch::store::common {

PreparedRequest::PreparedRequest(const core::NewRequest& request)
    : request(request), columns(encode_string_list(request.columns)) {
  fields.reserve(request.products.size());
  for (const auto& product : request.products) {
    fields.push_back(encode_string_list(product.fields));
    total += static_cast<std::int64_t>(product.image_urls.size());
  }
  ended = total == 0;
}

std::string_view PreparedRequest::status() const {
  return core::to_string(ended ? core::RequestStatus::completed : core::RequestStatus::pending);
}

core::CreateOutcome earlier_use(const std::string& earlier_id, bool same_fingerprint) {
  if (same_fingerprint) return {core::CreateOutcome::Kind::replayed, earlier_id, std::nullopt};
  return {core::CreateOutcome::Kind::key_conflict, {}, std::nullopt};
}

std::string new_webhook_id() { return "msg_" + core::new_uuid(); }

std::optional<std::string_view> end_state(const core::TaskOutcome& outcome) {
  switch (outcome.kind) {
    case core::TaskOutcome::Kind::succeeded:
      return core::to_string(core::TaskState::done);
    case core::TaskOutcome::Kind::failed:
      return core::to_string(core::TaskState::failed);
    case core::TaskOutcome::Kind::retry:
      break;
  }
  return std::nullopt;
}

}  // namespace imgbatch::store::common
