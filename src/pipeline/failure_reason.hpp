// Which class of failure (metrics::FailureReason, a metric label) an image's error falls
// in. The fetcher and the compressor report failures as messages for users; their
// wording is part of their contract (fetcher.hpp, compressor.hpp), and the tests feed the
// real messages through these functions, so a reworded message that lands in `other`
// fails a test.
#pragma once

#include <string_view>

#include "metrics/service_metrics.hpp"

namespace imgbatch::pipeline {

// A failed download's error (FetchResult::error).
metrics::FailureReason download_failure_reason(std::string_view error);
// compress()'s error for downloaded bytes.
metrics::FailureReason image_failure_reason(std::string_view error);

}  // namespace imgbatch::pipeline
