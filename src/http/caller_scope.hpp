// The caller (auth::Caller) of the API call that the current thread is serving. The router
// (server.cpp) checks the Authorization header before a route that needs a key runs, and
// sets the caller for the handler's length; handlers read it to show each key its own
// requests only. Handlers run on the thread that called them, start to end, as RESTinio's
// do, so a thread-local scope is exact (the same way log::RequestScope carries the request
// id).
#pragma once

#include "auth/authenticator.hpp"

namespace imgbatch::http {

class CallerScope {
 public:
  explicit CallerScope(const auth::Caller& caller);
  ~CallerScope();
  CallerScope(const CallerScope&) = delete;
  CallerScope& operator=(const CallerScope&) = delete;

 private:
  const auth::Caller* previous_;
};

// The caller set by the innermost CallerScope. Without one, a caller who owns nothing and
// sees nothing of anyone else's: a route mounted without a check fails closed.
const auth::Caller& current_caller();

}  // namespace imgbatch::http
