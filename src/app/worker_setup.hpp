// What `serve`, `worker` and `process` build the same way from their options: the
// downloader and the pipeline's settings. One place, so a new option reaches all three.
#pragma once

#include <memory>

#include "core/config.hpp"
#include "fetch/fetcher.hpp"
#include "pipeline/pipeline.hpp"

namespace imgbatch {

std::unique_ptr<fetch::Fetcher> make_fetcher(const core::Config& config);

// Pipeline settings from the options; callers add what is theirs (metrics, idle poll).
pipeline::Options pipeline_options(const core::Config& config);

}  // namespace imgbatch
