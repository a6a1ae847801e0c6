#include "http/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <restinio/all.hpp>
#include <spdlog/spdlog.h>

#include "auth/authenticator.hpp"
#include "blocking_pool.hpp"
#include "bodiless_response.hpp"
#include "caller_scope.hpp"
#include "guarded_socket.hpp"
#include "listen_address.hpp"
#include "logging/logging.hpp"
#include "metrics/service_metrics.hpp"
#include "problem.hpp"
#include "request_log.hpp"
#include "routes.hpp"
#include "webhook_receiver.hpp"

namespace imgbatch::http {

namespace {

// RESTinio's own messages (dropped connections, parser errors) go to our log.
class SpdlogLogger {
 public:
  template <typename Builder>
  void trace(Builder&& message) const {
    if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("restinio: {}", message());
  }
  template <typename Builder>
  void info(Builder&& message) const {
    if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("restinio: {}", message());
  }
  template <typename Builder>
  void warn(Builder&& message) const {
    if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("restinio: {}", message());
  }
  template <typename Builder>
  void error(Builder&& message) const {
    if (spdlog::should_log(spdlog::level::warn)) spdlog::warn("restinio: {}", message());
  }
};

struct Traits : restinio::traits_t<restinio::asio_timer_manager_t, SpdlogLogger> {
  // Answers 100 Continue, and 413 before the body (see guarded_socket.hpp).
  using stream_socket_t = GuardedSocket;
};
using Router = restinio::router::express_router_t<>;
using Clock = std::chrono::steady_clock;

// A backstop only: GuardedSocket answers a body over our limit with a 413 before RESTinio's
// parser sees it (RESTinio itself would drop the connection without a word). Kept above our
// limit so that the handlers' own 413 stays the answer should the guard ever let one by.
std::uint64_t transport_body_limit(std::int64_t max_upload_bytes) {
  const auto ours = static_cast<std::uint64_t>(std::max<std::int64_t>(max_upload_bytes, 0));
  constexpr std::uint64_t kSlack = std::uint64_t{1024} * 1024;
  if (ours > std::numeric_limits<std::uint64_t>::max() / 2 - kSlack)
    return std::numeric_limits<std::uint64_t>::max();
  return std::max(ours * 2, ours + kSlack);
}

// `route` is the route's pattern, never the path itself, so the label stays bounded.
void count_request(metrics::ServiceMetrics* metrics, const std::string& route, int status) {
  if (metrics) metrics->http_requests().with({route, std::to_string(status)}).inc();
}

// Counts the request, then sends the reply. Counting first matters: a client that reads
// /metrics right after its answer must find its request there already.
void send(const restinio::request_handle_t& req, Reply reply, Clock::time_point started,
          metrics::ServiceMetrics* metrics, const std::string& route) {
  count_request(metrics, route, reply.status);
  const int status = reply.status;
  if (is_bodiless(*req, reply)) {
    send_bodiless(req, reply);
  } else {
    auto response = req->create_response(restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(status)},
        std::string(reason_phrase(status))});
    response.append_header_date_field();
    for (auto& [name, value] : reply.headers) response.append_header(name, std::move(value));
    response.set_body(std::move(reply.body));
    response.done();
  }

  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  spdlog::debug("{} {} {} {}ms", req->header().method().c_str(), req->header().request_target(),
                status, ms);
}

// Runs a route and answers whatever happens: a database failure is a 503 the client may
// retry; anything else thrown is a bug, answered 500 and logged.
Reply run(const Handler& handler, const restinio::request_t& req,
          const restinio::router::route_params_t& params) {
  try {
    return handler(req, params);
  } catch (const store::StoreError& e) {
    spdlog::error("{} {}: database error: {}", req.header().method().c_str(), req.header().path(),
                  e.what());
    return problem(503, "the database is unavailable; try again later");
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.header().method().c_str(), req.header().path(), e.what());
    return problem(500, "an internal error occurred; it has been logged");
  }
}

auth::AuthMode auth_mode(const std::string& text) {
  const auto mode = auth::parse_auth_mode(text);
  if (!mode)
    throw std::invalid_argument("--auth must be auto, required or off; got '" + text + "'");
  return *mode;
}

// The check a route's Access asks for, from the request's Authorization header.
auth::Verdict check_access(const auth::Authenticator& authenticator, Access access,
                           const restinio::request_t& req) {
  std::optional<std::string_view> authorization;
  const auto header = req.header().opt_value_of(restinio::http_field::authorization);
  if (header) authorization = std::string_view(header->data(), header->size());
  switch (access) {
    case Access::metrics:
      return authenticator.metrics_caller(authorization);
    case Access::admin:
      return authenticator.admin_caller(authorization);
    case Access::api:
    case Access::open:
      break;
  }
  return authenticator.api_caller(authorization);
}

// 401 with the challenge of RFC 6750, or 403. The detail never repeats the token.
Reply refusal(const auth::Verdict& verdict) {
  Reply reply = problem(verdict.status, verdict.why);
  if (verdict.status == 401) {
    std::string challenge = "Bearer realm=\"imgbatch\"";
    if (!verdict.bearer_error.empty()) challenge += ", error=\"" + verdict.bearer_error + "\"";
    reply.header("WWW-Authenticate", std::move(challenge));
  }
  return reply;
}

// Checks the caller, then runs the route for it. A database that cannot be asked about the
// key is a 503, as for the route itself.
Reply run_checked(const Route& route, const auth::Authenticator& authenticator,
                  const restinio::request_t& req, const restinio::router::route_params_t& params) {
  if (route.access == Access::open) return run(route.handler, req, params);
  auth::Verdict verdict;
  try {
    verdict = check_access(authenticator, route.access, req);
  } catch (const store::StoreError& e) {
    spdlog::error("{} {}: database error while checking the API key: {}",
                  req.header().method().c_str(), req.header().path(), e.what());
    return problem(503, "the database is unavailable; try again later");
  }
  if (!verdict.caller) return refusal(verdict);
  const CallerScope scope(*verdict.caller);
  return run(route.handler, req, params);
}

std::string allow_header(const std::vector<restinio::http_method_id_t>& methods) {
  std::string allow;
  for (const auto& method : methods) {
    if (!allow.empty()) allow += ", ";
    allow += method.c_str();
  }
  return allow;
}

// Threads for the `blocking` routes, and how many of their requests may wait for one.
constexpr int kBlockingThreads = 8;
constexpr std::size_t kBlockingQueue = 256;
// A request that waited this long for a pool thread is answered 503 without running: its
// client, and RESTinio after handle_request_timeout (30 s), are about to give up on it.
constexpr auto kBlockingQueueWait = std::chrono::seconds(15);

Reply busy_storage(const char* retry_after) {
  auto reply = problem(503,
                       "too many requests are waiting for the image storage; try again "
                       "shortly");
  reply.header("Retry-After", retry_after);
  return reply;
}

// Checks the caller, runs the route and sends its answer, on whichever thread calls it (the
// caller's scope is thread-local). Every line logged meanwhile, the access line included,
// names the request it is about (a handler may bind it later).
void answer(const Route& route, const auth::Authenticator& authenticator,
            metrics::ServiceMetrics* metrics, const restinio::request_handle_t& req,
            const restinio::router::route_params_t& params, Clock::time_point started) {
  log::RequestScope scope(request_id_of(*req, params));
  send(req, run_checked(route, authenticator, *req, params), started, metrics, route.path);
}

std::unique_ptr<Router> make_router(const std::vector<Route>& routes,
                                    const auth::Authenticator& authenticator,
                                    metrics::ServiceMetrics* metrics, BlockingPool& pool) {
  auto router = std::make_unique<Router>();
  // Paths in the order first seen, with their methods, for the 405 answers.
  std::vector<std::pair<std::string, std::vector<restinio::http_method_id_t>>> paths;
  for (const auto& route : routes) {
    router->add_handler(
        route.method, route.path,
        [route, &authenticator, metrics, &pool](const restinio::request_handle_t& req,
                                                restinio::router::route_params_t params) {
          const auto started = Clock::now();
          if (!route.blocking) {
            answer(route, authenticator, metrics, req, params, started);
            return restinio::request_accepted();
          }
          // RESTinio lets a response be completed from any thread.
          auto shared_params =
              std::make_shared<restinio::router::route_params_t>(std::move(params));
          const bool queued = pool.try_submit([=, &authenticator] {
            if (Clock::now() - started > kBlockingQueueWait) {
              send(req, busy_storage("5"), started, metrics, route.path);
              return;
            }
            answer(route, authenticator, metrics, req, *shared_params, started);
          });
          if (!queued) send(req, busy_storage("1"), started, metrics, route.path);
          return restinio::request_accepted();
        });
    auto it = std::find_if(paths.begin(), paths.end(),
                           [&](const auto& entry) { return entry.first == route.path; });
    if (it == paths.end()) it = paths.insert(paths.end(), {route.path, {}});
    it->second.push_back(route.method);
  }
  for (const auto& [path, methods] : paths) {
    restinio::router::dynamic_none_of_methods_matcher_t others;
    for (const auto& method : methods) others.add(method);
    router->add_handler(
        std::move(others), path,
        [allow = allow_header(methods), route_path = path, metrics](
            const restinio::request_handle_t& req, restinio::router::route_params_t) {
          const auto started = Clock::now();
          auto reply = problem(405, std::string(req->header().method().c_str()) +
                                        " is not allowed here; use " + allow);
          reply.header("Allow", allow);
          send(req, std::move(reply), started, metrics, route_path);
          return restinio::request_accepted();
        });
  }
  router->non_matched_request_handler([metrics](const restinio::request_handle_t& req) {
    send(req, problem(404, "no such endpoint: " + std::string(req->header().path())), Clock::now(),
         metrics, "unmatched");
    return restinio::request_accepted();
  });
  return router;
}

}  // namespace

struct Server::Impl {
  Impl(const core::Config& config, store::Store& store, blob::BlobStore& blob,
       ServerOptions options)
      : image_links(options.image_links
                        ? std::move(options.image_links)
                        : std::make_shared<core::ProxyImageLinks>(config.effective_public_url())),
        deps{config, store, blob, *image_links, options.metrics},
        authenticator(store, auth_mode(config.auth), config.metrics_token),
        receiver(std::move(options.webhook_verifier)),
        surface(options.surface) {}

  std::shared_ptr<const core::ImageLinks> image_links;  // before deps, which refers to it
  Deps deps;
  // Asked before every route that is not open; reads the keys from `store` on each call.
  auth::Authenticator authenticator;
  WebhookReceiver receiver;
  Surface surface;
  // Ours, so that it carries the GuardedSockets' settings; made by start(), outlives
  // `running`, destroyed by stop(): see there.
  std::unique_ptr<restinio::asio_ns::io_context> io_context;
  restinio::running_server_handle_t<Traits> running;
  // Made by start(); stopped by stop() once no request can reach it any more.
  std::unique_ptr<BlockingPool> blocking_pool;
  std::atomic<std::uint16_t> port{0};
};

Server::Server(const core::Config& config, store::Store& store, blob::BlobStore& blob,
               ServerOptions options)
    : impl_(std::make_unique<Impl>(config, store, blob, std::move(options))) {}

Server::~Server() { stop(); }

void Server::start() {
  if (impl_->running) throw std::logic_error("http::Server::start called twice");
  const auto& config = impl_->deps.config;
  auto address = parse_listen_address(config.listen);
  if (!address) throw std::runtime_error(address.message());

  std::vector<Route> routes;
  // Who may call each group (docs/API.md, "Authentication").
  auto add = [&routes](std::vector<Route> group, Access access) {
    for (auto& route : group) route.access = access;
    std::move(group.begin(), group.end(), std::back_inserter(routes));
  };
  add(health_routes(impl_->deps), Access::open);
  add(metrics_routes(impl_->deps), Access::metrics);
  if (impl_->surface == Surface::api) {
    add(upload_routes(impl_->deps), Access::api);
    add(status_routes(impl_->deps), Access::api);
    // Capability URLs: the random request id in the path is the secret, so that links
    // handed to browsers, CSVs and webhooks work without a key.
    add(image_routes(impl_->deps), Access::open);
    // POST /webhook has its own signature check; what it received may be any tenant's
    // status documents, so reading them back is for admin keys.
    auto webhook = webhook_routes(impl_->receiver);
    for (auto& route : webhook)
      route.access = route.method == restinio::http_method_post() ? Access::open : Access::admin;
    std::move(webhook.begin(), webhook.end(), std::back_inserter(routes));
    add(web_routes(), Access::open);
  }
  impl_->blocking_pool = std::make_unique<BlockingPool>(kBlockingThreads, kBlockingQueue);
  std::shared_ptr<Router> router = make_router(with_head_routes(routes), impl_->authenticator,
                                               impl_->deps.metrics, *impl_->blocking_pool);

  GuardLimits guard;
  guard.max_body = static_cast<std::uint64_t>(std::max<std::int64_t>(config.max_upload_bytes, 0));
  guard.on_refused = [metrics = impl_->deps.metrics](int status) {
    count_request(metrics, "before_body", status);
  };
  impl_->io_context = std::make_unique<restinio::asio_ns::io_context>();
  restinio::asio_ns::use_service<GuardSettings>(*impl_->io_context).set_limits(guard);
  auto settings =
      restinio::server_settings_t<Traits>{}
          .address(address->host)
          .port(address->port)
          .protocol(address->ipv6 ? restinio::asio_ns::ip::tcp::v6()
                                  : restinio::asio_ns::ip::tcp::v4())
          .incoming_http_msg_limits(
              restinio::incoming_http_msg_limits_t{}
                  .max_url_size(std::size_t{16} * 1024)
                  .max_field_name_size(1024)
                  .max_field_value_size(std::size_t{16} * 1024)
                  .max_field_count(200)
                  .max_body_size(transport_body_limit(config.max_upload_bytes)))
          // The whole request must arrive within this time: generous for a 64 MiB upload.
          .read_next_http_message_timelimit(std::chrono::minutes(5))
          .write_http_response_timelimit(std::chrono::minutes(1))
          .handle_request_timeout(std::chrono::seconds(30))
          .acceptor_post_bind_hook([impl = impl_.get()](restinio::asio_ns::ip::tcp::acceptor& a) {
            impl->port = a.local_endpoint().port();
          })
          .request_handler([router,
                            metrics = impl_->deps.metrics](const restinio::request_handle_t& req) {
            try {
              return (*router)(req);
            } catch (const std::exception& e) {
              // The router decodes the path before matching: a malformed %-escape throws.
              send(req, problem(400, std::string("the request target is malformed: ") + e.what()),
                   Clock::now(), metrics, "unmatched");
              return restinio::request_accepted();
            }
          });

  try {
    impl_->running = restinio::run_async<Traits>(restinio::external_io_context(*impl_->io_context),
                                                 std::move(settings), 2);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + config.listen + ": " + e.what());
  }
  spdlog::info("listening on {} (port {})", config.listen, impl_->port.load());
}

std::uint16_t Server::port() const { return impl_->port.load(); }

void Server::stop() {
  if (!impl_ || !impl_->running) return;
  impl_->running->stop();
  impl_->running->wait();
  impl_->running.reset();
  // After the server: nothing submits any more. Reads still waiting on a hung storage
  // are cut, so that stopping never waits on it; answers still in progress are written
  // into connections that the io_context's end closes.
  impl_->deps.blob.abandon_reads();
  impl_->blocking_pool->stop();
  // RESTinio 0.6 does not close its connections when it stops: each lives on in the
  // operation still pending on it (a read awaiting the next request, or the rest of a
  // body). Destroying the io_context destroys those operations, and with them the
  // connections, whose sockets close.
  impl_->io_context.reset();
}

}  // namespace imgbatch::http
