// A running `imgbatch serve` or `imgbatch worker` process: its parts (store, blob storage,
// metrics, webhook dispatcher, workers, HTTP server) assembled from the options, started,
// and stopped in order on SIGTERM/SIGINT: stop accepting, finish or hand back claimed
// work, exit 0.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/image_links.hpp"
#include "http/server.hpp"
#include "metrics/service_metrics.hpp"
#include "retention/deletion_sweeper.hpp"
#include "store/store.hpp"
#include "webhook/dispatcher.hpp"
#include "worker_setup.hpp"

namespace imgbatch {

enum class ServiceRole { serve, worker };

// A start-up refused for a reason only the operator can mend (the command line exits 2
// with the message).
class StartRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The members are declared in the order the parts depend on each other: each is built
// after what it uses and, members being destroyed in reverse, destroyed before it. So the
// server goes first (its routes use everything else), then the workers (they count into
// the metrics and wake the dispatcher), and the store last.
class Service {
 public:
  // Assembles the parts; nothing runs yet. Throws on start-up failures (a bad URI, an
  // unwritable storage folder, a malformed webhook secret).
  Service(const core::Config& config, ServiceRole role);

  // Starts the server (throws when it cannot listen), the workers and the dispatcher.
  void start();
  // Stops accepting, gives images in hand a grace period, hands the rest back to the store,
  // and ends the webhook senders.
  void stop();

 private:
  const core::Config& config_;
  ServiceRole role_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blobs_;
  std::shared_ptr<const core::ImageLinks> image_links_;  // may refer to blobs_
  metrics::Registry registry_;
  metrics::ServiceMetrics metrics_;
  webhook::Dispatcher dispatcher_;
  retention::DeletionSweeper deletion_sweeper_;  // the images of deleted requests
  std::optional<Workers> workers_;               // none with --workers 0 (an API-only node)
  // `worker --metrics-listen`: the config the monitoring server listens with (listen =
  // --metrics-listen). Declared before server_, which keeps a reference to it.
  core::Config monitoring_config_;
  std::optional<http::Server> server_;  // none for `worker` without --metrics-listen
};

// Runs a service until SIGTERM or SIGINT (blocked beforehand by the caller, see
// shutdown_signals.hpp); returns the process exit code. Throws on start-up failures.
int run_service(const core::Config& config, ServiceRole role);

}  // namespace imgbatch
