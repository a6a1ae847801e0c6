#include "service.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "image_links.hpp"
#include "shutdown_signals.hpp"
#include "webhook/receiver_check.hpp"
#include "webhook/retry.hpp"
#include "webhook/signature.hpp"

namespace imgbatch {

namespace {

// Time allowed at shutdown for images in hand to finish before they are handed back.
constexpr std::chrono::seconds kShutdownGrace{10};
// A crash can leave temporary files behind; anything this old is no longer being written.
constexpr std::chrono::minutes kStaleTemporaryAge{10};

std::unique_ptr<blob::BlobStore> open_blobs(const core::Config& config) {
  blob::BlobStoreOptions options;
  options.s3_endpoint = config.s3_endpoint;
  options.s3_region = config.s3_region;
  auto blobs = blob::open_blob_store(config.storage, options);
  if (const int removed = blobs->remove_stale_temporaries(kStaleTemporaryAge); removed > 0)
    spdlog::info("removed {} temporary file(s) left by an earlier crash", removed);
  return blobs;
}

// Whole milliseconds, PostgreSQL's unit; a positive fraction of one still sets a limit.
std::chrono::milliseconds milliseconds(double seconds) {
  if (seconds <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1000)));
}

store::OpenOptions store_options(const core::Config& config) {
  store::OpenOptions options;
  options.statement_timeout = milliseconds(config.pg_statement_timeout_seconds);
  options.lock_timeout = milliseconds(config.pg_lock_timeout_seconds);
  return options;
}

webhook::DispatcherOptions dispatcher_options(const core::Config& config,
                                              metrics::ServiceMetrics& metrics,
                                              std::shared_ptr<const core::ImageLinks> links) {
  webhook::DispatcherOptions options;
  options.secret = config.webhook_secret;
  options.public_url = config.effective_public_url();
  options.allow_private_networks = config.allow_private_networks;
  options.retry_scale = webhook::retry_scale(config.webhook_retry_base_seconds);
  options.metrics = &metrics;
  options.image_links = std::move(links);
  return options;
}

// With a webhook secret, POST /webhook takes only notifications signed with it.
http::WebhookVerifier webhook_verifier(const core::Config& config) {
  if (!config.webhook_secret || config.webhook_secret->empty()) return {};
  auto key = webhook::parse_secret(*config.webhook_secret);
  if (!key) throw std::invalid_argument(key.message());
  auto check = std::make_shared<webhook::ReceiverCheck>(std::move(key.value()));
  return [check](const http::HeaderLookup& header, std::string_view body) {
    const auto id = header(webhook::SignatureHeaders::kId).value_or("");
    const auto timestamp = header(webhook::SignatureHeaders::kTimestamp).value_or("");
    const auto signature = header(webhook::SignatureHeaders::kSignature).value_or("");
    return check->check(id, timestamp, signature, body, core::now_ms() / 1000);
  };
}

// `serve` on an address other machines can reach, with nobody able to authenticate: every
// upload and status would be open to the network. Refused unless asked for with --auth off.
void refuse_open_public_api(const core::Config& config, store::Store& store) {
  if (config.auth == "off" || http::listens_on_loopback(config.listen) || store.any_api_key())
    return;
  throw StartRefused(
      "refusing to serve the API on " + config.listen +
      " without API keys: anyone who reaches it could upload, read every request and make this "
      "service download from the internet. Create a key first (imgbatch keys create --name "
      "NAME --db ...), listen on 127.0.0.1, or pass --auth off to serve it open on purpose");
}

// The store, once it is clear that the process may start: checked before anything else
// (storage, workers, the port) is touched.
std::unique_ptr<store::Store> open_service_store(const core::Config& config, ServiceRole role) {
  auto store = store::open_store(config.db, store_options(config));
  if (role == ServiceRole::serve) refuse_open_public_api(config, *store);
  return store;
}

// Retention by age is the API's (`serve --retention`); every process purges what was
// deleted and removes queued images.
retention::DeletionSweeper::Options sweeper_options(const core::Config& config, ServiceRole role) {
  retention::DeletionSweeper::Options options;
  if (role == ServiceRole::serve)
    options.retention = std::chrono::milliseconds(config.retention_ms);
  return options;
}

}  // namespace

Service::Service(const core::Config& config, ServiceRole role)
    : config_(config),
      role_(role),
      store_(open_service_store(config, role)),
      blobs_(open_blobs(config)),
      image_links_(make_image_links(config, *blobs_)),
      metrics_(registry_),
      dispatcher_(dispatcher_options(config, metrics_, image_links_), *store_),
      deletion_sweeper_(*store_, *blobs_, sweeper_options(config, role)) {
  if (config.workers > 0) {
    pipeline::Options options = pipeline_options(config);
    options.metrics = &metrics_;
    workers_.emplace(config, std::move(options), *store_, *blobs_,
                     [this](const std::vector<std::string>&) { dispatcher_.wake(); });
  }
  // Read at scrape time, by the server, which is destroyed before the workers: one COUNT
  // over the pending-task index, and a size under a lock.
  metrics_.set_task_sources(
      [this]() -> std::optional<double> {
        return static_cast<double>(store_->queue_depth().pending);
      },
      [this]() -> std::optional<double> {
        return workers_ ? static_cast<double>(workers_->in_hand()) : 0.0;
      });
  if (role == ServiceRole::serve) {
    http::ServerOptions options;
    options.metrics = &metrics_;
    options.webhook_verifier = webhook_verifier(config);
    options.image_links = image_links_;
    server_.emplace(config, *store_, *blobs_, std::move(options));
  } else if (!config.metrics_listen.empty()) {
    monitoring_config_ = config;
    monitoring_config_.listen = config.metrics_listen;
    http::ServerOptions options;
    options.metrics = &metrics_;
    options.surface = http::Surface::monitoring;
    server_.emplace(monitoring_config_, *store_, *blobs_, std::move(options));
  }
}

void Service::start() {
  if (server_ && role_ == ServiceRole::worker) {
    server_->start();
    spdlog::info("imgbatch worker: {} compress thread(s), database {}, metrics and health on {}",
                 config_.workers, store::redact_uri(config_.db), config_.metrics_listen);
  } else if (server_) {
    server_->start();
    spdlog::info("imgbatch listening on {} (public URL {}), {} compress thread(s), database {}",
                 config_.listen, config_.effective_public_url(), config_.workers,
                 store::redact_uri(config_.db));
  } else {
    spdlog::info("imgbatch worker: {} compress thread(s), database {}", config_.workers,
                 store::redact_uri(config_.db));
  }
  if (workers_) workers_->start();
  dispatcher_.start();
  deletion_sweeper_.start();
}

void Service::stop() {
  if (server_) server_->stop();
  if (workers_) workers_->stop(kShutdownGrace);
  dispatcher_.stop();
  deletion_sweeper_.stop();
}

int run_service(const core::Config& config, ServiceRole role) {
  Service service(config, role);
  service.start();
  const int signal = wait_for_shutdown_signal();
  spdlog::info("received {}, shutting down", shutdown_signal_name(signal));
  service.stop();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace imgbatch
