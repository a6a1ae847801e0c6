#include "lease_owner.hpp"

#include <atomic>

#include "core/process_identity.hpp"

namespace imgbatch::pipeline {

std::string make_owner_id() {
  static std::atomic<int> pipelines{0};
  return core::to_string(core::this_process()) + "/" + std::to_string(++pipelines);
}

bool owner_is_gone(std::string_view owner) {
  const auto slash = owner.rfind('/');
  if (slash == std::string_view::npos) return false;
  const auto process = core::parse_process_identity(owner.substr(0, slash));
  return process.has_value() && core::certainly_gone(*process);
}

}  // namespace imgbatch::pipeline
