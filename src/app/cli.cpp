#include "cli.hpp"

#include <curl/curl.h>
#include <sqlite3.h>
#include <vips/vips.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "image_links.hpp"
#include "imaging/compressor.hpp"
#include "keys_command.hpp"
#include "logging/logging.hpp"
#include "process_command.hpp"
#include "retention/retention_period.hpp"
#include "service.hpp"
#include "shutdown_signals.hpp"
#include "store/store.hpp"

#ifndef IMGBATCH_VERSION
#define IMGBATCH_VERSION "dev"
#endif

namespace imgbatch {

namespace {

std::string env(const char* name) { return std::string("IMGBATCH_") + name; }

// The options are grouped so that each subcommand takes the groups that mean something to
// it; serve and worker take them all, in the order of docs/configuration.md's table.

// A repeated option takes its last value, as most command lines do.
void take_last_values(CLI::App& app) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void add_placement_options(CLI::App& app, core::Config& config) {
  app.add_option("--listen", config.listen, "HOST:PORT the HTTP API listens on")
      ->envname(env("LISTEN"))
      ->capture_default_str();
  app.add_option("--db", config.db,
                 "database: sqlite:PATH or postgresql://USER:PASSWORD@HOST:PORT/DB")
      ->envname(env("DB"))
      ->capture_default_str();
  app.add_option("--storage", config.storage,
                 "where images are stored: file:DIR or s3://BUCKET[/PREFIX] (credentials from "
                 "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)")
      ->envname(env("STORAGE"))
      ->capture_default_str();
  app.add_option(
         "--public-url", config.public_url,
         "base of every output URL, as clients reach this service (default: http://<listen>)")
      ->envname(env("PUBLIC_URL"));
}

// Where an s3:// storage is and how clients are given its images.
void add_object_storage_options(CLI::App& app, core::Config& config) {
  app.add_option("--s3-endpoint", config.s3_endpoint,
                 "S3 API address when it is not AWS, e.g. http://127.0.0.1:7480 (Ceph RGW, "
                 "MinIO, R2); path-style addressing")
      ->envname(env("S3_ENDPOINT"));
  app.add_option("--s3-region", config.s3_region, "region the S3 requests are signed for")
      ->envname(env("S3_REGION"))
      ->capture_default_str();
  app.add_option("--image-urls", config.image_urls,
                 "image URLs handed to clients: proxy (GET /images on this service), public "
                 "(under --image-base-url) or presigned (time-limited S3 links)")
      ->envname(env("IMAGE_URLS"))
      ->check(CLI::IsMember({"proxy", "public", "presigned"}))
      ->capture_default_str();
  app.add_option("--image-base-url", config.image_base_url,
                 "--image-urls public: the URL (CDN or public bucket) that maps to the storage's "
                 "root; an image is BASE/REQUEST_ID/NAME")
      ->envname(env("IMAGE_BASE_URL"));
  app.add_option("--presign-ttl", config.presign_ttl_seconds,
                 "--image-urls presigned: how long a link stays valid (e.g. 3600, 12h, 7d; at "
                 "most 7d)")
      ->envname(env("PRESIGN_TTL"))
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, std::int64_t>{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}}))
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{7} * 24 * 3600))
      ->default_str("7d");
}

// The output options CLI11 keeps as text; each is checked by the parser of
// core/output_choices.hpp (the one the upload form uses) and applied by apply_output_texts.
struct OutputTexts {
  std::string format = "jpeg";
  std::string quality = "50";
  std::optional<std::string> quality_target, max_bytes, never_larger, sizes;
};

// A validator from one of core's parsers: its message is CLI11's error.
template <class Parse>
CLI::Validator parsed_by(Parse parse, std::string description) {
  return CLI::Validator(
      [parse](std::string& text) {
        const auto parsed = parse(text);
        return parsed ? std::string() : parsed.message();
      },
      std::move(description));
}

// After parsing: every text passed its validator. The one rule across options is checked
// here: nullopt when they agree, else the message.
std::optional<std::string> apply_output_texts(const OutputTexts& texts, core::Config& config) {
  config.format = *core::parse_image_format(texts.format);
  const auto quality = *core::parse_quality(texts.quality);
  if (!quality.automatic) config.quality = quality.fixed;
  if (quality.automatic)
    config.output_choices.quality_target = texts.quality_target
                                               ? *core::parse_quality_target(*texts.quality_target)
                                               : core::kDefaultQualityTarget;
  if (texts.max_bytes) config.output_choices.max_bytes = *core::parse_max_bytes(*texts.max_bytes);
  if (texts.never_larger)
    config.output_choices.never_larger = *core::parse_never_larger(*texts.never_larger);
  if (texts.sizes) config.output_choices.sizes = *core::parse_output_sizes(*texts.sizes);
  if (config.format == core::ImageFormat::best && !config.output_choices.quality_target)
    return "--format best needs --quality auto (the formats are compared at the same SSIM)";
  return std::nullopt;
}

// `for_service`: serve or worker, where --workers 0 means "API only" and an upload may
// override the quality; for `process` neither is so.
void add_work_options(CLI::App& app, core::Config& config, OutputTexts& texts, bool for_service) {
  app.add_option("--workers", config.workers,
                 for_service
                     ? "compress threads (default: number of cores); 0 = API only, no processing"
                     : "compress threads (default: number of cores)")
      ->envname(env("WORKERS"))
      ->check(CLI::Range(for_service ? 0 : 1, 1024));
  app.add_option("--compress-nice", config.compress_nice,
                 "nice value of the compress threads, so that the API stays responsive while "
                 "every core compresses; 0 = the process's own priority")
      ->envname(env("COMPRESS_NICE"))
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--download-concurrency", config.download_concurrency,
                 "downloads in flight at once")
      ->envname(env("DOWNLOAD_CONCURRENCY"))
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  const std::string upload_may = for_service ? " (an upload may choose otherwise)" : "";
  app.add_option("--quality", texts.quality,
                 "output quality 1-100, or auto: the lowest quality whose SSIM against the "
                 "source reaches --quality-target" +
                     upload_may)
      ->envname(env("QUALITY"))
      ->check(parsed_by(core::parse_quality, "1-100|auto"))
      ->capture_default_str();
  app.add_option("--quality-target", texts.quality_target,
                 "with --quality auto: the SSIM each image must reach, in (0, 1) (default 0.92)")
      ->envname(env("QUALITY_TARGET"))
      ->check(parsed_by(core::parse_quality_target, "SSIM"));
  app.add_option("--max-bytes", texts.max_bytes,
                 "the largest output in bytes (each size too): the highest quality that fits, "
                 "else the image fails (default: no cap)" +
                     upload_may)
      ->envname(env("MAX_BYTES"))
      ->check(parsed_by(core::parse_max_bytes, "BYTES"));
  app.add_option("--min-quality", config.output_choices.min_quality,
                 for_service ? "the lowest quality --max-bytes and --quality auto may go to, for "
                               "the requests uploaded to this node (stored with each request)"
                             : "the lowest quality --max-bytes and --quality auto may go to")
      ->envname(env("MIN_QUALITY"))
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--never-larger", texts.never_larger,
                 "true: keep the source (metadata stripped) when re-encoding would not make it "
                 "smaller and nothing needs fixing (default true)" +
                     upload_may)
      ->envname(env("NEVER_LARGER"))
      ->check(parsed_by(core::parse_never_larger, "true|false"));
  app.add_option("--sizes", texts.sizes,
                 "named sizes stored beside each image, e.g. thumb:200x200,card:600x600 (fit "
                 "inside, never enlarged; at most 8)" +
                     upload_may)
      ->envname(env("SIZES"))
      ->check(parsed_by(core::parse_output_sizes, "NAME:WxH,..."));
  app.add_option("--format", texts.format,
                 "output format: jpeg, webp, avif, png, keep, or best (with --quality auto: the "
                 "smallest of jpeg, webp and avif)")
      ->envname(env("FORMAT"))
      ->check(CLI::IsMember({"jpeg", "jpg", "webp", "avif", "png", "keep", "best"}))
      ->capture_default_str();
}

// Shared sources and outputs (docs/architecture.md, "Shared sources and outputs"), for
// uploads (serve); `imgbatch process` makes every image of its CSV.
void add_reuse_options(CLI::App& app, core::Config& config) {
  app.add_option("--reuse", config.reuse,
                 "on: an image whose source was seen before (same URL and output settings) "
                 "reuses its output, asking the server with If-None-Match/If-Modified-Since "
                 "whether it changed; off: every image is downloaded and made anew")
      ->envname(env("REUSE"))
      ->type_name("on|off")
      ->default_str("on");
  app.add_flag("--reuse-across-keys", config.reuse_across_keys,
               "let uploads of different API keys share sources and outputs (which tells one "
               "key that another fetched a URL); off: each key reuses only its own")
      ->envname(env("REUSE_ACROSS_KEYS"));
}

void add_auth_options(CLI::App& app, core::Config& config) {
  app.add_option("--auth", config.auth,
                 "when API keys are needed: auto (as soon as one key exists), required, or off "
                 "(never; needed to serve a non-loopback address without keys)")
      ->envname(env("AUTH"))
      ->check(CLI::IsMember({"auto", "required", "off"}))
      ->capture_default_str();
  app.add_option("--metrics-token", config.metrics_token,
                 "a bearer token that opens GET /metrics besides admin keys (for a scraper)")
      ->envname(env("METRICS_TOKEN"));
}

void add_webhook_options(CLI::App& app, core::Config& config) {
  app.add_option("--webhook-url", config.webhook_url,
                 "where to POST a request's final status when the upload names none")
      ->envname(env("WEBHOOK_URL"));
  app.add_option("--webhook-secret", config.webhook_secret,
                 "whsec_<base64> key that signs notifications and checks POST /webhook")
      ->envname(env("WEBHOOK_SECRET"));
}

void add_limit_options(CLI::App& app, core::Config& config, bool uploads) {
  app.add_flag("--allow-private-networks", config.allow_private_networks,
               "allow image and webhook URLs on loopback and private addresses (off: SSRF guard)")
      ->envname(env("ALLOW_PRIVATE_NETWORKS"));
  if (uploads)
    app.add_option("--max-upload-bytes", config.max_upload_bytes,
                   "largest CSV upload accepted (e.g. 64MiB)")
        ->envname(env("MAX_UPLOAD_BYTES"))
        ->transform(CLI::AsSizeValue(false))
        ->capture_default_str();
  app.add_option("--max-rows", config.max_rows, "most products in one CSV")
      ->envname(env("MAX_ROWS"))
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--max-image-bytes", config.max_image_bytes, "largest image download (e.g. 32MiB)")
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
}

void add_lease_option(CLI::App& app, core::Config& config) {
  app.add_option("--lease-seconds", config.lease_seconds,
                 "seconds a claimed image stays reserved without renewal; after a crash, the "
                 "wait before another process takes it over")
      ->envname(env("LEASE_SECONDS"))
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

// `serve` only: the workers of `worker` processes never delete by age, so that one
// retention period (the API's) applies, whatever the workers were started with.
void add_retention_option(CLI::App& app, core::Config& config) {
  app.add_option_function<std::string>(
         "--retention",
         [&config](const std::string& text) {
           config.retention_ms = retention::parse_retention(text)->count();
         },
         "delete requests (rows and images) this long after they ended, e.g. 30d, 12h; "
         "0 keeps everything")
      ->envname(env("RETENTION"))
      ->type_name("DURATION")
      ->default_str("30d")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (retention::parse_retention(text)) return {};
            return "\"" + text +
                   "\" is not a retention period: " + std::string(retention::kRetentionFormat);
          },
          ""));  // no description: the type name says it
}

// A number of seconds from 0 (off) to a day, fractions allowed.
CLI::Validator timeout_seconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) ||
            value < 0 || value > 86'400)
          return "\"" + text + "\" is not a number of seconds from 0 (no limit) to 86400";
        return {};
      },
      "SECONDS");
}

void add_postgres_options(CLI::App& app, core::Config& config) {
  app.add_option("--pg-statement-timeout", config.pg_statement_timeout_seconds,
                 "PostgreSQL: seconds a statement may run before the server cancels it "
                 "(0 = no limit from imgbatch)")
      ->envname(env("PG_STATEMENT_TIMEOUT"))
      ->check(timeout_seconds())
      ->capture_default_str();
  app.add_option("--pg-lock-timeout", config.pg_lock_timeout_seconds,
                 "PostgreSQL: seconds a statement may wait for a lock held by another session "
                 "(0 = no limit from imgbatch)")
      ->envname(env("PG_LOCK_TIMEOUT"))
      ->check(timeout_seconds())
      ->capture_default_str();
}

void add_log_options(CLI::App& app, core::Config& config) {
  app.add_option("--log-format", config.log_format, "text or json")
      ->envname(env("LOG_FORMAT"))
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", config.log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->envname(env("LOG_LEVEL"))
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(kLogLevels), std::end(kLogLevels))))
      ->capture_default_str();
}

// A number of seconds that is positive and finite ("inf" and "nan" parse as numbers).
CLI::Validator positive_seconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) ||
            value <= 0)
          return "\"" + text + "\" is not a positive number of seconds (for example 0.01)";
        return {};
      },
      "SECONDS");
}

void add_webhook_retry_option(CLI::App& app, core::Config& config) {
  app.add_option("--webhook-retry-base", config.webhook_retry_base_seconds,
                 "seconds the 5 s step of the webhook retry schedule takes; every other step "
                 "scales with it (for tests)")
      ->envname(env("WEBHOOK_RETRY_BASE"))
      ->check(positive_seconds())
      ->capture_default_str();
}

// Every option of docs/configuration.md's table, for serve and worker.
void add_service_options(CLI::App& app, core::Config& config, OutputTexts& texts) {
  take_last_values(app);
  add_placement_options(app, config);
  add_object_storage_options(app, config);
  add_work_options(app, config, texts, true);
  add_auth_options(app, config);
  add_reuse_options(app, config);
  add_webhook_options(app, config);
  add_limit_options(app, config, true);
  add_lease_option(app, config);
  add_postgres_options(app, config);
  add_log_options(app, config);
  add_webhook_retry_option(app, config);
}

// `process FILE.csv --out DIR` and the options that matter without a server.
void add_process_options(CLI::App& app, ProcessArgs& args, OutputTexts& texts) {
  take_last_values(app);
  app.add_option("FILE.csv", args.csv_path, "the products and their image URLs")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  app.add_option("--out", args.out_dir,
                 "where images/, output.csv and the resumable state (.imgbatch/) go; created "
                 "if missing")
      ->type_name("DIR")
      ->required();
  add_work_options(app, args.config, texts, false);
  add_limit_options(app, args.config, false);
  add_log_options(app, args.config);
  app.footer(
      "Writes DIR/images/PRODUCT-IMAGE.jpg (counting from 0) and DIR/output.csv, whose\n"
      "Output Image Urls are paths relative to DIR. Progress goes to stderr, the summary\n"
      "and the failed images to stdout. Running the same command again resumes an\n"
      "interrupted run and does not redo finished work.\n"
      "Exit codes: 0 every image succeeded; 1 some images failed (listed); 2 bad usage,\n"
      "an unreadable or invalid CSV, or DIR holds another CSV's results; 3 internal or\n"
      "database error; 130/143 interrupted by SIGINT/SIGTERM (run again to resume).\n"
      "The log level is warn by default, so that log lines do not break up the progress.");
}

std::string version_text() {
  return std::string("imgbatch ") + IMGBATCH_VERSION + " (libvips " + vips_version_string() + ", " +
         curl_version_info(CURLVERSION_NOW)->version + " libcurl, SQLite " + sqlite3_libversion() +
         ")";
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{
      "imgbatch: batch image compression service.\n"
      "Upload a CSV of products and image URLs; imgbatch downloads, compresses and\n"
      "stores every image, and tells you (status, output CSV, webhook) when done."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());

  // Each subcommand fills its own Config: CLI11 applies environment variables to the
  // options of every subcommand, parsed or not, so a shared one would let the
  // environment overwrite a flag given to another.
  struct Settings {
    core::Config config;
    OutputTexts output;
  };
  Settings serve_settings, worker_settings;
  ProcessArgs process_args;
  OutputTexts process_output;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (auto* config : {&serve_settings.config, &worker_settings.config, &process_args.config})
    config->workers = cores;
  // Info lines would break up the progress bar; what goes wrong still shows.
  process_args.config.log_level = "warn";

  auto* serve = app.add_subcommand("serve", "HTTP API and workers in one process");
  add_service_options(*serve, serve_settings.config, serve_settings.output);
  add_retention_option(*serve, serve_settings.config);
  auto* worker = app.add_subcommand("worker", "workers only, against a shared database");
  add_service_options(*worker, worker_settings.config, worker_settings.output);
  worker
      ->add_option("--metrics-listen", worker_settings.config.metrics_listen,
                   "HOST:PORT to serve GET /metrics and GET /health on (default: none)")
      ->envname(env("METRICS_LISTEN"));
  auto* process = app.add_subcommand(
      "process", "one CSV without a server: images and output.csv into --out DIR, with progress");
  add_process_options(*process, process_args, process_output);
  auto* version = app.add_subcommand("version", "print the version and the libraries in use");

  // keys create|list|revoke: each takes --db (the database of the service) and the
  // PostgreSQL timeouts.
  auto* keys = app.add_subcommand("keys", "make, list and revoke API keys (docs/API.md)");
  keys->require_subcommand(1);
  core::Config keys_config;
  take_last_values(*keys);
  keys->add_option("--db", keys_config.db,
                   "database: sqlite:PATH or postgresql://USER:PASSWORD@HOST:PORT/DB")
      ->envname(env("DB"))
      ->capture_default_str();
  add_postgres_options(*keys, keys_config);
  KeysCreateArgs create_args;
  auto* keys_create_cmd =
      keys->add_subcommand("create", "make a key and print its token (shown only this once)");
  keys_create_cmd->add_option("--name", create_args.name, "the key's name, unique among keys")
      ->required();
  keys_create_cmd->add_flag("--admin", create_args.admin,
                            "sees every request and may read GET /metrics");
  keys_create_cmd
      ->add_option("--images-per-day", create_args.images_per_day,
                   "quota: images uploaded per day (stored and listed)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  keys_create_cmd
      ->add_option("--uploads-per-minute", create_args.uploads_per_minute,
                   "rate limit: uploads per minute (stored and listed)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  keys_create_cmd->fallthrough();  // --db may follow the subcommand's own options
  auto* keys_list_cmd = keys->add_subcommand("list", "list the keys (never their tokens)");
  keys_list_cmd->fallthrough();
  std::string revoke_name;
  auto* keys_revoke_cmd =
      keys->add_subcommand("revoke", "revoke a key: every process refuses it at once");
  keys_revoke_cmd->add_option("NAME", revoke_name, "the key's name")->required();
  keys_revoke_cmd->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any usage error exits 2, as command-line tools do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (version->parsed()) {
    std::cout << version_text() << "\n";
    return 0;
  }
  if (keys->parsed()) {
    // Warnings only: the token printed by `create` must not be lost among info lines.
    setup_logging("text", "warn");
    try {
      store::OpenOptions options;
      options.statement_timeout =
          std::chrono::milliseconds(std::llround(keys_config.pg_statement_timeout_seconds * 1000));
      options.lock_timeout =
          std::chrono::milliseconds(std::llround(keys_config.pg_lock_timeout_seconds * 1000));
      const auto store = store::open_store(keys_config.db, options);
      if (keys_create_cmd->parsed()) return keys_create(*store, create_args, std::cout, std::cerr);
      if (keys_list_cmd->parsed()) return keys_list(*store, std::cout);
      if (keys_revoke_cmd->parsed()) return keys_revoke(*store, revoke_name, std::cout, std::cerr);
    } catch (const std::exception& e) {
      std::cerr << "imgbatch keys: " << e.what() << "\n";
      return 1;
    }
  }
  // Before libvips, curl or anything else starts a thread (shutdown_signals.hpp).
  block_shutdown_signals();
  if (process->parsed()) {
    if (auto problem = apply_output_texts(process_output, process_args.config)) {
      std::cerr << "imgbatch process: " << *problem << "\n";
      return 2;
    }
    setup_logging(process_args.config.log_format, process_args.config.log_level);
    imaging::init_vips(argv[0]);
    return run_process(process_args);
  }

  Settings& chosen = worker->parsed() ? worker_settings : serve_settings;
  core::Config& config = chosen.config;
  if (auto problem = apply_output_texts(chosen.output, config)) {
    std::cerr << "imgbatch: " << *problem << "\n";
    return 2;
  }
  setup_logging(config.log_format, config.log_level);
  if (auto problem = image_links_problem(config)) {
    std::cerr << "imgbatch: " << *problem << "\n";
    return 2;
  }
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
  } catch (const StartRefused& e) {
    spdlog::critical("{}", e.what());
    return 2;
  } catch (const blob::StorageUnusable& e) {
    // Before any image was claimed: a wrong endpoint, bucket or credentials, which only
    // the operator can mend. The same status as a usage error.
    spdlog::critical("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace imgbatch
