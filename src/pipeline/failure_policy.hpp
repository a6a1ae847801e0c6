// What the pipeline does about a failed image, decided from the failure's kind alone (one
// table, failure_policy.cpp): whether another attempt could help, and the class it is
// counted under (metrics::FailureReason, the label of imgbatch_image_failures_total).
// The user sees the failure's own message in GET /status, with " (gave up after N
// attempts)" when retries ran out.
#pragma once

#include "core/failure.hpp"
#include "metrics/service_metrics.hpp"

namespace imgbatch::pipeline {

struct FailurePolicy {
  bool retry = false;  // transient: try again later, up to Options::max_attempts
  metrics::FailureReason reason = metrics::FailureReason::other;
};

FailurePolicy policy_for(core::Failure::Kind kind);

}  // namespace imgbatch::pipeline
