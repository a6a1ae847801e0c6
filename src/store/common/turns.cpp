#include "common/turns.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace imgbatch::store::common {

std::vector<Turn> plan_turns(const std::vector<TurnCandidate>& candidates, int max) {
  struct Request {
    std::int64_t seq;
    std::int64_t last_turn;
    int left;  // ready tasks not yet given
    int turn;  // index into `turns`, -1 before its first task
  };
  struct Tenant {
    std::int64_t last_turn = 0;
    std::vector<Request> requests;  // those with tasks left
  };
  std::map<std::string, Tenant> tenants;
  // Requests with nothing ready (all in flight, or waiting for a retry) get no task, but
  // still count: a tenant is as recent as its most recent request, and the clock starts
  // after every turn given so far. Left out, a tenant whose one-image requests were all in
  // flight looked never served and took the first task of every claim, and a request
  // coming back from a retry looked as recent as requests served after it.
  std::map<std::string, std::int64_t> tenant_turns;
  std::int64_t clock = 0;
  for (const auto& candidate : candidates) {
    std::int64_t& latest = tenant_turns[candidate.tenant];
    latest = std::max(latest, candidate.last_turn);
    clock = std::max(clock, candidate.last_turn);
  }
  for (const auto& candidate : candidates) {
    if (candidate.ready <= 0) continue;
    Tenant& tenant = tenants[candidate.tenant];
    tenant.last_turn = tenant_turns[candidate.tenant];
    tenant.requests.push_back({candidate.seq, candidate.last_turn, candidate.ready, -1});
  }

  const auto least_recent = [](const Request& a, const Request& b) {
    return std::tie(a.last_turn, a.seq) < std::tie(b.last_turn, b.seq);
  };
  const auto oldest_seq = [](const Tenant& tenant) {
    std::int64_t seq = tenant.requests.front().seq;
    for (const auto& request : tenant.requests) seq = std::min(seq, request.seq);
    return seq;
  };

  std::vector<Turn> turns;
  for (int given = 0; given < max && !tenants.empty(); ++given) {
    auto next = tenants.begin();
    for (auto it = std::next(tenants.begin()); it != tenants.end(); ++it) {
      if (std::make_tuple(it->second.last_turn, oldest_seq(it->second)) <
          std::make_tuple(next->second.last_turn, oldest_seq(next->second)))
        next = it;
    }
    Tenant& tenant = next->second;
    auto request = std::min_element(tenant.requests.begin(), tenant.requests.end(), least_recent);
    if (request->turn < 0) {
      request->turn = static_cast<int>(turns.size());
      turns.push_back({request->seq, 0, 0});
    }
    Turn& turn = turns[static_cast<std::size_t>(request->turn)];
    ++clock;
    ++turn.tasks;
    turn.last_turn = clock;
    request->last_turn = clock;
    tenant.last_turn = clock;
    if (--request->left == 0) tenant.requests.erase(request);
    if (tenant.requests.empty()) tenants.erase(next);
  }
  return turns;
}

}  // namespace imgbatch::store::common
