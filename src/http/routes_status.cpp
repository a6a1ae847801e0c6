// Reading requests back: GET /status, GET /requests, GET /requests/ID/output.csv, and
// GET /health.
#include <algorithm>
#include <cctype>

#include <restinio/uri_helpers.hpp>

#include <spdlog/spdlog.h>

#include "caller_scope.hpp"
#include "core/ids.hpp"
#include "core/status_document.hpp"
#include "csv/csv.hpp"
#include "params.hpp"
#include "problem.hpp"
#include "routes.hpp"

namespace imgbatch::http {

namespace {

constexpr int kStatusDefaultLimit = 1000;
constexpr int kStatusMaxLimit = 1000;
constexpr int kRequestsDefaultLimit = 50;
constexpr int kRequestsMaxLimit = 500;
constexpr int kCsvChunk = 1000;

using Query = restinio::query_string_params_t;

core::Result<Query> parse_query(const restinio::request_t& req) {
  auto query = restinio::try_parse_query<restinio::parse_query_traits::javascript_compatible>(
      req.header().query());
  if (!query)
    return core::make_error("the query string is malformed: " + query.error().description());
  return std::move(*query);
}

std::optional<std::string_view> param(const Query& query, std::string_view name) {
  const auto value = query.get_param(name);
  if (!value) return std::nullopt;
  return std::string_view(value->data(), value->size());
}

// Ids are issued in lower case; a client that upper-cased one still means it.
std::string normalized_id(std::string_view id) {
  std::string out(id);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Reply unknown_request(const std::string& id) {
  return problem(404, "no request with id " + id + " (ids come from POST /upload)");
}

// The request, if it exists and the caller may see it. Another key's request is answered
// exactly like one that does not exist, so that a key cannot even learn which ids exist.
std::optional<core::RequestRecord> visible_request(const Deps& deps, const std::string& id) {
  auto record = deps.store.get_request(id);
  if (!record || !current_caller().may_see(record->owner_key)) return std::nullopt;
  return record;
}

Reply status(const Deps& deps, const restinio::request_t& req) {
  auto query = parse_query(req);
  if (!query) return problem(400, query.message());
  const auto raw_id = param(*query, "request_id");
  if (!raw_id || raw_id->empty())
    return problem(400, "the query parameter request_id is missing: GET /status?request_id=ID");
  const auto id = normalized_id(*raw_id);
  if (!core::is_uuid(id))
    return problem(400, "request_id '" + std::string(*raw_id) +
                            "' is not a request id (a UUID such as "
                            "123e4567-e89b-12d3-a456-426614174000)");
  auto page = parse_page(param(*query, "offset"), param(*query, "limit"), kStatusDefaultLimit,
                         kStatusMaxLimit);
  if (!page) return problem(400, page.message());

  const auto record = visible_request(deps, id);
  if (!record) return unknown_request(id);
  const auto products = deps.store.get_products(id, page->offset, page->limit);
  auto doc = core::status_document(*record, products, deps.config.effective_public_url(),
                                   deps.image_links);
  doc["offset"] = page->offset;
  doc["limit"] = page->limit;
  return json_reply(200, doc);
}

Reply list_requests(const Deps& deps, const restinio::request_t& req) {
  auto query = parse_query(req);
  if (!query) return problem(400, query.message());
  auto page = parse_page(param(*query, "offset"), param(*query, "limit"), kRequestsDefaultLimit,
                         kRequestsMaxLimit);
  if (!page) return problem(400, page.message());
  const auto public_url = deps.config.effective_public_url();
  nlohmann::json list = nlohmann::json::array();
  // Each key sees its own requests; an admin key (or anyone, while keys are not in force)
  // sees them all.
  const auto& caller = current_caller();
  const auto records = caller.sees_all()
                           ? deps.store.list_requests(page->limit, page->offset)
                           : deps.store.list_requests_of(*caller.key_id, page->limit, page->offset);
  for (const auto& record : records) list.push_back(core::request_summary(record, public_url));
  return json_reply(
      200, {{"requests", std::move(list)}, {"limit", page->limit}, {"offset", page->offset}});
}

Reply output_csv(const Deps& deps, const restinio::router::route_params_t& params) {
  const auto id = normalized_id(std::string_view(params["id"].data(), params["id"].size()));
  if (!core::is_uuid(id)) return unknown_request(id);
  const auto record = visible_request(deps, id);
  if (!record) return unknown_request(id);
  if (!core::has_ended(record->status)) {
    const auto& p = record->progress;
    return problem(409, "request " + id + " is " + std::string(core::to_string(record->status)) +
                            ": " + std::to_string(p.succeeded + p.failed) + " of " +
                            std::to_string(p.total) +
                            " images have ended; try again when status is completed");
  }

  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<std::string>> urls;
  std::vector<std::vector<std::vector<std::string>>> extra_items;
  rows.reserve(static_cast<std::size_t>(record->products_total));
  urls.reserve(static_cast<std::size_t>(record->products_total));
  for (int offset = 0; offset < record->products_total; offset += kCsvChunk) {
    const auto products = deps.store.get_products(id, offset, kCsvChunk);
    if (products.empty()) break;
    for (const auto& product : products) {
      rows.push_back(product.fields);
      auto& row_urls = urls.emplace_back();
      for (const auto& image : product.images) {
        const bool done = image.state == core::TaskState::done && image.output_name;
        row_urls.push_back(done ? core::done_image_url(deps.image_links, id, image) : "");
      }
      extra_items.push_back(core::extra_csv_items(*record, product, deps.image_links));
    }
  }

  Reply reply;
  reply.status = 200;
  reply.header("Content-Type", "text/csv; charset=utf-8");
  reply.header("Content-Disposition", "attachment; filename=\"output-" + id + ".csv\"");
  reply.body = csv::write_output_csv(record->columns, rows, urls, core::extra_csv_headers(*record),
                                     extra_items);
  return reply;
}

Reply health(const Deps& deps) {
  bool up = false;
  try {
    up = deps.store.ping();
  } catch (const store::StoreError&) {
    up = false;
  }
  if (!up) return problem(503, "the database does not answer");
  return json_reply(200, {{"status", "ok"}});
}

// DELETE /requests/ID on a request that has not ended: it becomes `cancelled`
// (Store::cancel_request says what that stops). Answered with its summary, as GET
// /requests lists it; a second DELETE then deletes it like any ended request.
Reply cancel_request(const Deps& deps, const std::string& id) {
  switch (deps.store.cancel_request(id, core::now_ms())) {
    case store::Store::CancelOutcome::cancelled:
      break;
    case store::Store::CancelOutcome::not_found:  // deleted meanwhile by another call
      return unknown_request(id);
    case store::Store::CancelOutcome::already_ended:
      return problem(409, "request " + id +
                              " ended while it was being cancelled; DELETE it again to "
                              "delete it");
  }
  spdlog::info("request cancelled");
  const auto record = deps.store.get_request(id);
  if (!record) return unknown_request(id);  // deleted by another call since
  return json_reply(200, core::request_summary(*record, deps.config.effective_public_url()));
}

}  // namespace

// DELETE /requests/ID: an ended request is gone for clients at once (marked deleted: every
// route answers 404); its rows and images are removed soon after, in small batches, by the
// deletion sweeper (retention/), as for a request past its retention period. One that has
// not ended is cancelled instead.
Reply delete_request(const Deps& deps, const restinio::router::route_params_t& params) {
  const auto id = normalized_id(std::string_view(params["id"].data(), params["id"].size()));
  if (!core::is_uuid(id)) return unknown_request(id);
  const auto record = visible_request(deps, id);
  if (!record) return unknown_request(id);
  switch (deps.store.delete_request(id)) {
    case store::Store::DeleteOutcome::deleted: {
      spdlog::info("request deleted");
      Reply reply;
      reply.status = 204;
      return reply;
    }
    case store::Store::DeleteOutcome::not_found:  // deleted meanwhile by another call
      return unknown_request(id);
    case store::Store::DeleteOutcome::not_ended:
      break;
  }
  return cancel_request(deps, id);
}

std::vector<Route> status_routes(const Deps& deps) {
  using Params = restinio::router::route_params_t;
  std::vector<Route> routes;
  routes.push_back(
      {restinio::http_method_get(), "/status",
       [&deps](const restinio::request_t& req, const Params&) { return status(deps, req); }});
  routes.push_back({restinio::http_method_get(), "/requests",
                    [&deps](const restinio::request_t& req, const Params&) {
                      return list_requests(deps, req);
                    }});
  routes.push_back({restinio::http_method_get(), "/requests/:id/output.csv",
                    [&deps](const restinio::request_t&, const Params& params) {
                      return output_csv(deps, params);
                    }});
  routes.push_back({restinio::http_method_delete(), "/requests/:id",
                    [&deps](const restinio::request_t&, const Params& params) {
                      return delete_request(deps, params);
                    }});
  return routes;
}

std::vector<Route> health_routes(const Deps& deps) {
  using Params = restinio::router::route_params_t;
  return {{restinio::http_method_get(), "/health",
           [&deps](const restinio::request_t&, const Params&) { return health(deps); }}};
}

}  // namespace imgbatch::http
