// SIGINT and SIGTERM, the signals that stop imgbatch. They are blocked in every thread and
// taken synchronously by the main thread (sigwait), so no handler runs inside library
// code and no stray thread takes the default action.
#pragma once

#include <chrono>

namespace imgbatch {

// Blocks SIGINT and SIGTERM in the calling thread. Called by the main thread before any
// other thread starts (libvips, curl, the pipeline, the server), so that every thread
// inherits the mask and the signals wait for wait_for_shutdown_signal.
void block_shutdown_signals();

// Waits for SIGINT or SIGTERM (blocked by then) and returns it.
int wait_for_shutdown_signal();
// The same, for at most `timeout`; 0 when none came.
int wait_for_shutdown_signal(std::chrono::milliseconds timeout);

// "SIGINT" or "SIGTERM", for messages.
const char* shutdown_signal_name(int signal);

}  // namespace imgbatch
