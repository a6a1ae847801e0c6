#include "service.hpp"

#include <csignal>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "blob/blob_store.hpp"
#include "fetch/fetcher.hpp"
#include "http/server.hpp"
#include "metrics/service_metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "store/store.hpp"
#include "webhook/dispatcher.hpp"
#include "webhook/receiver_check.hpp"
#include "webhook/retry.hpp"
#include "webhook/signature.hpp"
#include "worker_setup.hpp"

namespace imgbatch {

namespace {

// Time allowed at shutdown for images in hand to finish before they are handed back.
constexpr std::chrono::seconds kShutdownGrace{10};
// A crash can leave temporary files behind; anything this old is no longer being written.
constexpr std::chrono::minutes kStaleTemporaryAge{10};

// Signals are blocked in every thread and taken synchronously by the main thread, so no
// handler runs inside library code.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

int run_service(const core::Config& config, ServiceRole role) {
  const sigset_t signals = block_shutdown_signals();

  auto store = store::open_store(config.db);
  auto blobs = blob::open_blob_store(config.storage);
  if (const int removed = blobs->remove_stale_temporaries(kStaleTemporaryAge); removed > 0)
    spdlog::info("removed {} temporary file(s) left by an earlier crash", removed);

  // Declared before everything that counts into it, so it is destroyed after them.
  metrics::Registry registry;
  metrics::ServiceMetrics metrics(registry);

  webhook::DispatcherOptions dispatch_options;
  dispatch_options.secret = config.webhook_secret;
  dispatch_options.public_url = config.effective_public_url();
  dispatch_options.allow_private_networks = config.allow_private_networks;
  dispatch_options.retry_scale = webhook::retry_scale_from_env();
  dispatch_options.metrics = &metrics;
  webhook::Dispatcher dispatcher(dispatch_options, *store);

  std::unique_ptr<fetch::Fetcher> fetcher;
  std::unique_ptr<pipeline::Pipeline> workers;
  if (config.workers > 0) {
    fetcher = make_fetcher(config);
    pipeline::Options options = pipeline_options(config);
    options.metrics = &metrics;
    workers = std::make_unique<pipeline::Pipeline>(
        options, *store, *blobs, *fetcher,
        [&dispatcher](const std::vector<std::string>&) { dispatcher.wake(); });
  }
  // An upload, a retry or a released lease wakes idle workers at once (PostgreSQL's
  // LISTEN/NOTIFY, SQLite's in-process notifier). Declared after `workers`, so it stops
  // calling them before they are destroyed.
  const auto work_watch = workers ? store->watch_new_work([&workers] { workers->wake(); })
                                  : nullptr;

  // Read at scrape time: one COUNT over the pending-task index, and a size under a lock.
  metrics.set_task_sources(
      [&store]() -> std::optional<double> {
        return static_cast<double>(store->queue_depth().pending);
      },
      [&workers]() -> std::optional<double> {
        return workers ? static_cast<double>(workers->in_hand()) : 0.0;
      });

  std::unique_ptr<http::Server> server;
  if (role == ServiceRole::serve) {
    server = std::make_unique<http::Server>(config, *store, *blobs);
    server->set_metrics(metrics);
    if (config.webhook_secret && !config.webhook_secret->empty()) {
      auto key = webhook::parse_secret(*config.webhook_secret);
      if (!key) throw std::invalid_argument(key.message());
      auto check = std::make_shared<webhook::ReceiverCheck>(std::move(key.value()));
      server->set_webhook_verifier(
          [check](const http::HeaderLookup& header, std::string_view body) {
            const auto id = header(webhook::SignatureHeaders::kId).value_or("");
            const auto timestamp = header(webhook::SignatureHeaders::kTimestamp).value_or("");
            const auto signature = header(webhook::SignatureHeaders::kSignature).value_or("");
            return check->check(id, timestamp, signature, body, core::now_ms() / 1000);
          });
    }
    server->start();
    spdlog::info("imgbatch listening on {} (public URL {}), {} compress thread(s), database {}",
                 config.listen, config.effective_public_url(), config.workers,
                 store::redact_uri(config.db));
  } else {
    spdlog::info("imgbatch worker: {} compress thread(s), database {}", config.workers,
                 store::redact_uri(config.db));
  }
  if (workers) workers->start();
  dispatcher.start();

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");

  if (server) server->stop();
  if (workers) workers->stop(kShutdownGrace);
  dispatcher.stop();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace imgbatch
