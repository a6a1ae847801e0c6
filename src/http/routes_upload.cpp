// POST /upload: validate everything, store the request in one transaction, answer 202 and
// wake the workers. Nothing is stored unless the whole upload is acceptable.
#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "caller_scope.hpp"
#include "core/ids.hpp"
#include "csv/csv.hpp"
#include "intake/new_request.hpp"
#include "intake/source_key.hpp"
#include "logging/logging.hpp"
#include "metrics/service_metrics.hpp"
#include "multipart.hpp"
#include "params.hpp"
#include "problem.hpp"
#include "rate_limit_headers.hpp"
#include "routes.hpp"

namespace imgbatch::http {

namespace {

constexpr std::size_t kMaxIdempotencyKeyLength = 255;

std::string trimmed(std::string_view s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  const auto begin = std::find_if(s.begin(), s.end(), not_space);
  const auto end = std::find_if(s.rbegin(), s.rend(), not_space).base();
  return begin < end ? std::string(begin, end) : std::string();
}

std::string plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// The options of the upload, defaults applied, or the 400 that explains the bad one.
core::Result<intake::UploadSettings> read_options(const UploadForm& form,
                                                  const core::Config& config) {
  intake::UploadSettings options{config.webhook_url, config.quality, config.format,
                                 config.output_choices};
  auto& choices = options.choices;
  if (form.webhook_url) {
    // An empty field is what an HTML form sends for "no value".
    auto url = trimmed(*form.webhook_url);
    if (!url.empty()) {
      if (auto why = csv::check_url(url); !why.empty())
        return core::make_error("webhook_url: " + why);
      options.webhook_url = std::move(url);
    }
  }
  // An empty field is "not given", as for webhook_url: the service's default applies.
  const auto given = [](const std::optional<std::string>& field) {
    return field && !trimmed(*field).empty();
  };
  if (given(form.quality)) {
    const auto quality = core::parse_quality(*form.quality);
    if (!quality) return quality.error();
    if (quality->automatic) {
      if (!choices.quality_target) choices.quality_target = core::kDefaultQualityTarget;
    } else {
      options.quality = quality->fixed;
      choices.quality_target.reset();
    }
  }
  if (given(form.target)) {
    const auto target = core::parse_quality_target(*form.target);
    if (!target) return target.error();
    if (!choices.quality_target)
      return core::make_error("target: applies only with quality=auto (this upload's quality is " +
                              std::to_string(options.quality) + ")");
    choices.quality_target = *target;
  }
  if (given(form.max_bytes)) {
    const auto max_bytes = core::parse_max_bytes(*form.max_bytes);
    if (!max_bytes) return max_bytes.error();
    choices.max_bytes = *max_bytes;
  }
  if (given(form.never_larger)) {
    const auto never_larger = core::parse_never_larger(*form.never_larger);
    if (!never_larger) return never_larger.error();
    choices.never_larger = *never_larger;
  }
  if (form.sizes) {  // an empty field asks for no sizes, whatever --sizes says
    auto sizes = core::parse_output_sizes(*form.sizes);
    if (!sizes) return sizes.error();
    choices.sizes = std::move(*sizes);
  }
  if (form.format) {
    auto text = trimmed(*form.format);
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto format = core::parse_image_format(text);
    if (!format)
      return core::make_error("format must be one of jpeg, webp, avif, png, keep, best; got '" +
                              text + "'");
    options.format = *format;
  }
  if (options.format == core::ImageFormat::best && !choices.quality_target)
    return core::make_error(
        "format: best needs quality=auto (the formats are compared at the same SSIM)");
  return options;
}

// The field fresh: true asks that nothing be reused for this upload.
core::Result<bool> read_fresh(const UploadForm& form) {
  if (!form.fresh || trimmed(*form.fresh).empty()) return false;
  const auto fresh = core::parse_never_larger(*form.fresh);  // the same words: true, false, …
  if (!fresh)
    return core::make_error("fresh: must be true or false, got '" + trimmed(*form.fresh) + "'");
  return *fresh;
}

nlohmann::json problems_json(const std::vector<csv::Problem>& problems) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : problems)
    list.push_back({{"line", p.line}, {"column", p.column}, {"message", p.message}});
  return list;
}

// The answer to an upload and what became of it, for counting (imgbatch_uploads_total):
// the handler says which outcome it produced rather than the counter reading it back
// from the reply.
struct UploadAnswer {
  metrics::UploadOutcome outcome;
  Reply reply;
};

// A problem+json answer (problem.hpp): nothing was stored.
UploadAnswer refused(int status, std::string detail) {
  return {metrics::UploadOutcome::rejected, problem(status, std::move(detail))};
}
UploadAnswer refused(int status, std::string detail, nlohmann::json errors) {
  return {metrics::UploadOutcome::rejected, problem(status, std::move(detail), std::move(errors))};
}

std::size_t image_count(const core::NewRequest& request) {
  std::size_t n = 0;
  for (const auto& product : request.products) n += product.image_urls.size();
  return n;
}

// 429: the upload would pass a limit of its key; nothing was stored or charged.
UploadAnswer over_quota(const core::QuotaState& state, std::size_t images) {
  std::string detail;
  if (state.images_exceeded)
    detail = "this upload has " + plural(images, "image") + "; this key may upload " +
             plural(static_cast<std::size_t>(state.images_left), "more image") +
             " today (--images-per-day " + std::to_string(state.images_per_day.value_or(0)) +
             ", counted per UTC day)";
  if (state.uploads_exceeded)
    detail += std::string(detail.empty() ? "" : "; ") + "this key has used its " +
              std::to_string(state.uploads_per_minute.value_or(0)) +
              " uploads per minute (--uploads-per-minute)";
  detail += "; nothing was stored, try again after Retry-After";
  // Also as members, for programs: what is left now, and what this upload needed.
  nlohmann::json members = nlohmann::json::object();
  if (state.images_per_day) {
    members["images_left_today"] = state.images_left;
    members["images_in_upload"] = images;
  }
  if (state.uploads_per_minute) members["uploads_left"] = state.uploads_left;
  Reply reply = problem_with_members(429, std::move(detail), members);
  reply.header("Retry-After", std::to_string(retry_after_seconds(state)));
  add_rate_limit_headers(reply, state);
  return {metrics::UploadOutcome::rejected, std::move(reply)};
}

UploadAnswer upload(const Deps& deps, const restinio::request_t& req) {
  const auto& config = deps.config;
  const auto& body = req.body();
  // RESTinio already read the body: its own limit sits above ours so that an oversized
  // upload gets this answer instead of a dropped connection (see server.cpp).
  if (static_cast<std::int64_t>(body.size()) > config.max_upload_bytes)
    return refused(413, "the upload is " + std::to_string(body.size()) + " bytes; the limit is " +
                            std::to_string(config.max_upload_bytes) +
                            " bytes (--max-upload-bytes)");

  const auto content_type = req.header().opt_value_of(restinio::http_field::content_type);
  const std::string_view type_text =
      content_type ? std::string_view(content_type->data(), content_type->size())
                   : std::string_view();
  if (!is_form_data(type_text))
    return refused(415,
                   "POST /upload takes multipart/form-data with the CSV in the field "
                   "'file'; got Content-Type '" +
                       std::string(type_text) + "'");

  auto form = parse_upload_form(type_text, std::string_view(body.data(), body.size()));
  if (!form) return refused(400, form.message());
  if (!form->file) return refused(400, "the form field 'file' (the CSV) is missing");

  std::optional<std::string> idempotency_key;
  if (const auto key = req.header().opt_value_of("Idempotency-Key")) {
    if (key->empty() || key->size() > kMaxIdempotencyKeyLength)
      return refused(400, "the Idempotency-Key header must be 1 to " +
                              std::to_string(kMaxIdempotencyKeyLength) + " characters long");
    idempotency_key = std::string(key->data(), key->size());
  }

  auto options = read_options(*form, config);
  if (!options) return refused(400, options.message());
  const auto fresh = read_fresh(*form);
  if (!fresh) return refused(400, fresh.message());

  auto parsed = csv::parse_and_validate(*form->file, intake::parse_limits(config.max_rows));
  if (!parsed.ok())
    return refused(400,
                   "the CSV has " + std::string(parsed.problems_truncated ? "more than " : "") +
                       plural(parsed.problems.size(), "problem") +
                       (parsed.problems_truncated ? " (the first ones are listed)" : "") +
                       "; nothing was stored, fix them and upload again",
                   problems_json(parsed.problems));

  auto fingerprint = intake::upload_fingerprint(*form->file, *options);
  auto request = intake::new_request(core::new_uuid(), std::move(*parsed.csv), *options,
                                     std::move(fingerprint), std::move(idempotency_key));
  // The request belongs to the key that uploads it (docs/API.md, "Tenants").
  request.owner_key = current_caller().key_id;
  // Its limits are charged in the transaction that stores it (docs/API.md, "Quotas and
  // rate limits").
  if (request.owner_key) request.quota = current_caller().quota;
  // Its images may reuse earlier downloads and outputs of the same sources: within its
  // tenant, or across tenants when the service says so (docs/architecture.md, "Shared
  // sources and outputs"). fresh=true and --reuse off: none.
  if (config.reuse && !*fresh)
    intake::share_sources(request, config.reuse_across_keys ? "" : request.owner_key.value_or(""));

  const auto outcome = deps.store.create_request(request);
  using Kind = core::CreateOutcome::Kind;
  if (outcome.kind == Kind::key_conflict)
    return refused(422,
                   "Idempotency-Key was used with a different upload; use a new key for "
                   "a new upload");
  if (outcome.kind == Kind::over_quota) return over_quota(*outcome.quota, image_count(request));

  // The rest of this call's log lines (the server's access line too) are about this id.
  log::bind_request_id(outcome.request_id);
  Reply reply = json_reply(202, {{"request_id", outcome.request_id},
                                 {"message", "Upload successful, processing started."}});
  reply.header("Location", "/status?request_id=" + outcome.request_id);
  if (outcome.quota) add_rate_limit_headers(reply, *outcome.quota);
  if (outcome.kind == Kind::replayed) {
    reply.header("Idempotent-Replayed", "true");
    spdlog::info("upload replayed (same Idempotency-Key and upload)");
    return {metrics::UploadOutcome::replayed, std::move(reply)};
  }
  // The key's name, never its token, says whose request it is.
  const auto& caller = current_caller();
  spdlog::info("request created: {} products, {} images{}", request.products.size(),
               image_count(request), caller.key_id ? " (key " + caller.key_name + ")" : "");
  return {metrics::UploadOutcome::accepted, std::move(reply)};
}

Reply counted_upload(const Deps& deps, const restinio::request_t& req) {
  try {
    UploadAnswer answer = upload(deps, req);
    if (deps.metrics) deps.metrics->uploads(answer.outcome).inc();
    return std::move(answer.reply);
  } catch (...) {
    // A 503 or a 500, answered by the server.
    if (deps.metrics) deps.metrics->uploads(metrics::UploadOutcome::rejected).inc();
    throw;
  }
}

}  // namespace

std::vector<Route> upload_routes(const Deps& deps) {
  return {{restinio::http_method_post(), "/upload",
           [&deps](const restinio::request_t& req, const restinio::router::route_params_t&) {
             return counted_upload(deps, req);
           }}};
}

}  // namespace imgbatch::http
