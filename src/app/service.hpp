// Assembles a running imgbatch process from its parts (store, blob storage, fetcher,
// pipeline, webhook dispatcher, HTTP server), waits for SIGTERM/SIGINT, and shuts down in
// order: stop accepting, finish or hand back claimed work, exit 0.
#pragma once

#include "core/config.hpp"

namespace imgbatch {

enum class ServiceRole { serve, worker };

// Returns the process exit code. Throws on start-up failures (bad URI, port in use).
int run_service(const core::Config& config, ServiceRole role);

}  // namespace imgbatch
