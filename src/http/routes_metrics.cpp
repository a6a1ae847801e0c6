// GET /metrics: the process's metrics in the Prometheus text format (registry.hpp). It is
// mounted only when the server has metrics (ServerOptions::metrics), which `imgbatch serve`
// always gives it.
#include "metrics/service_metrics.hpp"
#include "routes.hpp"

namespace imgbatch::http {

std::vector<Route> metrics_routes(const Deps& deps) {
  if (deps.metrics == nullptr) return {};
  return {{restinio::http_method_get(), "/metrics",
           [&deps](const restinio::request_t&, const restinio::router::route_params_t&) {
             Reply reply;
             reply.status = 200;
             reply.header("Content-Type", std::string(metrics::kContentType));
             // Scrapers poll; a stale answer from a cache would hide what changed.
             reply.header("Cache-Control", "no-store");
             reply.body = deps.metrics->registry().render();
             return reply;
           }}};
}

}  // namespace imgbatch::http
