// Config: every option of docs/configuration.md's table, with its default. Filled by the
// CLI (flags and IMGBATCH_* environment variables); read-only after start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/types.hpp"

namespace imgbatch::core {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string db = "sqlite:data/imgbatch.db";
  std::string storage = "file:data/images";
  std::string public_url;  // empty: "http://" + listen
  // s3:// storage only: the S3 API's address when it is not AWS (Ceph, MinIO, R2…; then
  // path-style addressing), and the region requests are signed for.
  std::string s3_endpoint;
  std::string s3_region = "us-east-1";
  // How clients reach images (core/image_links.hpp): proxy, public (under image_base_url)
  // or presigned (links valid for presign_ttl_seconds, s3:// storage only).
  std::string image_urls = "proxy";
  std::string image_base_url;
  std::int64_t presign_ttl_seconds = std::int64_t{7} * 24 * 3600;
  int workers = 0;  // set from the number of cores by the CLI; 0 = API only
  int download_concurrency = 32;
  int quality = 50;  // the fixed quality, unless output_choices.quality_target (auto)
  ImageFormat format = ImageFormat::jpeg;
  // The defaults of uploads' output choices (--quality auto, --quality-target, --max-bytes,
  // --never-larger, --sizes); an upload may choose otherwise. Also --min-quality, which an
  // upload cannot choose: it is stored with each request this node takes, and the worker
  // that makes its images uses it.
  OutputChoices output_choices;
  std::optional<std::string> webhook_url;
  std::optional<std::string> webhook_secret;
  bool allow_private_networks = false;
  // Shared sources and outputs (docs/architecture.md): an upload's images reuse what is
  // known of the same sources (off: every image is downloaded and made anew, as with the
  // upload field fresh=true); across API keys only with reuse_across_keys.
  bool reuse = true;
  bool reuse_across_keys = false;
  std::int64_t max_upload_bytes = 64LL * 1024 * 1024;
  std::int64_t max_rows = 100'000;
  std::int64_t max_image_bytes = 32LL * 1024 * 1024;
  std::int64_t max_pixels = 100'000'000;
  int download_timeout_seconds = 30;
  int max_attempts = 4;
  // How long a claimed task stays reserved for its process without a renewal; after a
  // crash, this is how long its images wait before another process takes them.
  int lease_seconds = 60;
  // `serve` only: requests that ended longer ago than this are deleted with their images
  // (src/retention); 0 keeps everything. Milliseconds; the CLI takes "30d" and the like.
  std::int64_t retention_ms = std::int64_t{30} * 86'400'000;
  // PostgreSQL only, in seconds (0 = not set by imgbatch): the server cancels a statement
  // that runs longer than the first, or waits longer than the second for a lock, so a call
  // never hangs on a stuck query or on a lock held by a session that stopped. The same
  // defaults as store::OpenOptions; docs/configuration.md says why these values.
  double pg_statement_timeout_seconds = 60;
  double pg_lock_timeout_seconds = 10;
  // Nice value of the compress threads (0 to 19; 0 leaves them at the process's priority).
  // Compressing keeps every core busy; a lower priority lets the HTTP threads, at 0, have
  // a core as soon as they wake, so the API stays responsive under full load.
  int compress_nice = 10;
  // When API keys are needed (docs/API.md, "Authentication"): "auto" (once a key exists),
  // "required" or "off".
  std::string auth = "auto";
  // A bearer token that opens GET /metrics besides admin keys (for a scraper); never logged.
  std::optional<std::string> metrics_token;
  // `worker` only: HOST:PORT where GET /metrics and GET /health are served; empty = none.
  std::string metrics_listen;
  std::string log_format = "text";
  std::string log_level = "info";  // trace, debug, info, warn, error, critical or off
  // Seconds that the 5 s step of the webhook retry schedule takes; every other step
  // scales with it. Tests shrink it to run a whole schedule in seconds.
  double webhook_retry_base_seconds = 5.0;

  // public_url without a trailing slash, defaulted from listen.
  std::string effective_public_url() const;
};

}  // namespace imgbatch::core
