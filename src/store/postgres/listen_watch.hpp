// The PostgreSQL WorkWatch: a kept connection (kept_connection.hpp) that LISTENs on
// kWorkChannel and calls back once per batch of notifications, and once after each
// reconnection to make up for what was announced while it was away.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "postgres/conninfo.hpp"
#include "postgres/kept_connection.hpp"
#include "store/store.hpp"

namespace imgbatch::store::postgres {

// The channel that the backend NOTIFYs in the transactions that make tasks claimable.
inline constexpr std::string_view kWorkChannel = "imgbatch_work";

class ListenWatch final : public WorkWatch {
 public:
  // Tries the first connection before returning, so that work stored after this returns
  // is seen; if the server is unreachable now, it keeps trying.
  ListenWatch(std::string uri, SessionSettings settings, std::function<void()> on_new_work);

 private:
  void notify_callback();

  std::function<void()> on_new_work_;
  KeptConnection connection_;  // last: its thread calls back into the members above
};

}  // namespace imgbatch::store::postgres
