// POST /webhook (the receiver) and GET /webhook/events (what it received).
#include "routes.hpp"
#include "webhook_receiver.hpp"

namespace imgbatch::http {

std::vector<Route> webhook_routes(WebhookReceiver& receiver) {
  std::vector<Route> routes;
  routes.push_back(
      {restinio::http_method_post(), "/webhook",
       [&receiver](const restinio::request_t& req, const restinio::router::route_params_t&) {
         const auto& fields = req.header();
         const HeaderLookup header =
             [&fields](std::string_view name) -> std::optional<std::string> {
           const auto value = fields.opt_value_of(name);
           if (!value) return std::nullopt;
           return std::string(value->data(), value->size());
         };
         return receiver.receive(header, req.body());
       }});
  routes.push_back(
      {restinio::http_method_get(), "/webhook/events",
       [&receiver](const restinio::request_t&, const restinio::router::route_params_t&) {
         return json_reply(200, receiver.events());
       }});
  return routes;
}

}  // namespace imgbatch::http
