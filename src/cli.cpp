#include "cli.hpp"

#include <curl/curl.h>
#include <sqlite3.h>
#include <vips/vips.h>

#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "imaging/compressor.hpp"
#include "logging.hpp"
#include "service.hpp"

#ifndef IMGBATCH_VERSION
#define IMGBATCH_VERSION "dev"
#endif

namespace imgbatch {

namespace {

// Adds every option of API.md's table to a subcommand, each with its environment variable.
void add_options(CLI::App& app, core::Config& config, std::string& format) {
  // A repeated option takes its last value, as most command lines do.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  const auto env = [](const char* name) { return std::string("IMGBATCH_") + name; };
  app.add_option("--listen", config.listen, "HOST:PORT the HTTP API listens on")
      ->envname(env("LISTEN"))
      ->capture_default_str();
  app.add_option("--db", config.db,
                 "database: sqlite:PATH (more backends arrive later: postgresql://…)")
      ->envname(env("DB"))
      ->capture_default_str();
  app.add_option("--storage", config.storage, "where images are stored: file:DIR")
      ->envname(env("STORAGE"))
      ->capture_default_str();
  app.add_option("--public-url", config.public_url,
                 "base of every output URL, as clients reach this service (default: http://<listen>)")
      ->envname(env("PUBLIC_URL"));
  app.add_option("--workers", config.workers,
                 "compress threads (default: number of cores); 0 = API only, no processing")
      ->envname(env("WORKERS"))
      ->check(CLI::Range(0, 1024));
  app.add_option("--download-concurrency", config.download_concurrency,
                 "downloads in flight at once")
      ->envname(env("DOWNLOAD_CONCURRENCY"))
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--quality", config.quality, "output quality 1-100 (an upload may override it)")
      ->envname(env("QUALITY"))
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--format", format, "output format: jpeg, webp, avif, png or keep")
      ->envname(env("FORMAT"))
      ->check(CLI::IsMember({"jpeg", "jpg", "webp", "avif", "png", "keep"}))
      ->capture_default_str();
  app.add_option("--webhook-url", config.webhook_url,
                 "where to POST a request's final status when the upload names none")
      ->envname(env("WEBHOOK_URL"));
  app.add_option("--webhook-secret", config.webhook_secret,
                 "whsec_<base64> key that signs notifications and checks POST /webhook")
      ->envname(env("WEBHOOK_SECRET"));
  app.add_flag("--allow-private-networks", config.allow_private_networks,
               "allow image and webhook URLs on loopback and private addresses (off: SSRF guard)")
      ->envname(env("ALLOW_PRIVATE_NETWORKS"));
  app.add_option("--max-upload-bytes", config.max_upload_bytes,
                 "largest CSV upload accepted (e.g. 64MiB)")
      ->envname(env("MAX_UPLOAD_BYTES"))
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--max-rows", config.max_rows, "most products in one CSV")
      ->envname(env("MAX_ROWS"))
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--max-image-bytes", config.max_image_bytes,
                 "largest image download (e.g. 32MiB)")
      ->envname(env("MAX_IMAGE_BYTES"))
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--max-pixels", config.max_pixels,
                 "largest image (width x height) decoded; larger ones are refused unread")
      ->envname(env("MAX_PIXELS"))
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--download-timeout", config.download_timeout_seconds,
                 "seconds allowed for one whole download")
      ->envname(env("DOWNLOAD_TIMEOUT"))
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--max-attempts", config.max_attempts,
                 "tries per image when downloads fail transiently")
      ->envname(env("MAX_ATTEMPTS"))
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--lease-seconds", config.lease_seconds,
                 "seconds a claimed image stays reserved without renewal; after a crash, the "
                 "wait before another process takes it over")
      ->envname(env("LEASE_SECONDS"))
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--log-format", config.log_format, "text or json")
      ->envname(env("LOG_FORMAT"))
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

std::string version_text() {
  return std::string("imgbatch ") + IMGBATCH_VERSION + " (libvips " + vips_version_string() +
         ", " + curl_version_info(CURLVERSION_NOW)->version + " libcurl, SQLite " +
         sqlite3_libversion() + ")";
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"imgbatch: batch image compression service.\n"
               "Upload a CSV of products and image URLs; imgbatch downloads, compresses and\n"
               "stores every image, and tells you (status, output CSV, webhook) when done."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());

  // Each subcommand fills its own Config: CLI11 applies environment variables to the
  // options of every subcommand, parsed or not, so a shared one would let the
  // environment overwrite a flag given to the other.
  struct Settings {
    core::Config config;
    std::string format = "jpeg";
  };
  Settings serve_settings, worker_settings;
  for (auto* s : {&serve_settings, &worker_settings})
    s->config.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  auto* serve = app.add_subcommand("serve", "HTTP API and workers in one process");
  add_options(*serve, serve_settings.config, serve_settings.format);
  auto* worker = app.add_subcommand("worker", "workers only, against a shared database");
  add_options(*worker, worker_settings.config, worker_settings.format);
  auto* version = app.add_subcommand("version", "print the version and the libraries in use");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (version->parsed()) {
    std::cout << version_text() << "\n";
    return 0;
  }
  Settings& chosen = worker->parsed() ? worker_settings : serve_settings;
  core::Config& config = chosen.config;
  config.format = *core::parse_image_format(chosen.format);
  setup_logging(config.log_format);
  imaging::init_vips(argv[0]);
  try {
    if (serve->parsed()) return run_service(config, ServiceRole::serve);
    if (worker->parsed()) {
      if (config.workers == 0) {
        std::cerr << "imgbatch worker: --workers 0 leaves nothing to do; give 1 or more\n";
        return 2;
      }
      return run_service(config, ServiceRole::worker);
    }
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace imgbatch
