// Fair turns (docs/architecture.md, "Fair turns"): which requests the next claim serves,
// the same arithmetic on both backends. Claims used to take the oldest pending task first,
// so a 100,000-image request made every later one wait for all of it. Now the tenants
// (API keys) with work ready take turns, one task each; within a tenant its requests take
// turns. A tenant's share does not grow with how many requests it uploads, and a request
// uploaded while a big one runs starts at its first claim.
//
// The turns are remembered in requests.last_turn, a counter that only goes up: whoever
// was served least recently goes next. A request never served (0) goes first, and a
// tenant is as recent as its most recently served unfinished request, including those
// with nothing ready (all in flight, or waiting for a retry).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imgbatch::store::common {

// An unfinished request; those with no task ready still count for their tenant's turn
// and for the clock.
struct TurnCandidate {
  std::int64_t seq = 0;        // requests.seq
  std::string tenant;          // requests.owner_key; "" for requests stored without keys
  std::int64_t last_turn = 0;  // requests.last_turn: when it last got a task, 0 never
  int ready = 0;               // tasks ready to claim now (counting up to the claim size)
};

// How many tasks to claim from one request, and the last_turn it has afterwards.
struct Turn {
  std::int64_t seq = 0;
  int tasks = 0;
  std::int64_t last_turn = 0;
};

// Shares `max` tasks among the candidates, one at a time: the tenant served least
// recently, then its request served least recently (ties: the older request, the lower
// seq). Turns come back in the order they were first given; candidates with no ready task
// get none.
std::vector<Turn> plan_turns(const std::vector<TurnCandidate>& candidates, int max);

}  // namespace imgbatch::store::common
