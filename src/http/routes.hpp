// The routes of the API, one file per group (routes_*.cpp). A route is a method, an
// express-style path ("/images/:id/:name") and a handler returning a Reply; server.cpp
// mounts them, answers 405 for other methods on a known path and 404 elsewhere.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <restinio/http_headers.hpp>
#include <restinio/request_handler.hpp>
#include <restinio/router/express.hpp>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/image_links.hpp"
#include "reply.hpp"
#include "store/store.hpp"

namespace imgbatch::metrics {
class ServiceMetrics;
}

namespace imgbatch::http {

class WebhookReceiver;

// What the handlers use; owned by the Server, which outlives every request.
struct Deps {
  const core::Config& config;
  store::Store& store;
  blob::BlobStore& blob;
  const core::ImageLinks& image_links;               // the URLs status and output CSV hand out
  metrics::ServiceMetrics* const metrics = nullptr;  // none: no GET /metrics, nothing counted
};

using Handler =
    std::function<Reply(const restinio::request_t&, const restinio::router::route_params_t&)>;

// Who may call a route (docs/API.md, "Authentication"). The router checks before the
// handler runs; `api` is the default, so a route added without thought is not open.
enum class Access {
  api,      // an API key while keys are in force; the handler sees current_caller()
  admin,    // an admin key while keys are in force (GET /webhook/events: everyone's data)
  metrics,  // an admin key or the --metrics-token (GET /metrics)
  open,     // anyone: /health, the dashboard's files, /openapi.yaml, /images (capability
            // URLs), POST /webhook (checked by its signature)
};

struct Route {
  restinio::http_method_id_t method;
  std::string path;
  Handler handler;
  Access access = Access::api;
  // The handler may wait on the network (an object store): it runs on the server's
  // BlockingPool, never on the threads that read and answer every request.
  bool blocking = false;
};

std::vector<Route> upload_routes(const Deps& deps);
std::vector<Route> status_routes(const Deps& deps);
std::vector<Route> health_routes(const Deps& deps);
std::vector<Route> image_routes(const Deps& deps);
std::vector<Route> webhook_routes(WebhookReceiver& receiver);
std::vector<Route> metrics_routes(const Deps& deps);
// The dashboard (GET /, GET /web/NAME) and GET /openapi.yaml, compiled into the binary.
std::vector<Route> web_routes();

}  // namespace imgbatch::http
