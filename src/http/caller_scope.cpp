#include "caller_scope.hpp"

namespace imgbatch::http {

namespace {

thread_local const auth::Caller* current = nullptr;

// A key id that no request has (stored ones start with "key_"), without admin rights: it
// sees nothing.
const auth::Caller& nobody() {
  static const auth::Caller caller{std::string(), std::string(), false, std::nullopt};
  return caller;
}

}  // namespace

CallerScope::CallerScope(const auth::Caller& caller) : previous_(current) { current = &caller; }

CallerScope::~CallerScope() { current = previous_; }

const auth::Caller& current_caller() { return current ? *current : nobody(); }

}  // namespace imgbatch::http
