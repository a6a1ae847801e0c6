// The HTTP API (docs/API.md) on RESTinio: POST /upload, GET /status, GET
// /requests[/ID/output.csv], GET /images/ID/NAME, GET /health, GET /metrics and the POST
// /webhook receiver. It runs on its own pool of two threads: handlers only parse, validate
// and make quick Store calls, while the images are processed elsewhere (pipeline/), woken
// by the store's watch (Store::watch_new_work) when an upload is stored.
//
// Every error is an RFC 9457 problem (problem.hpp). An upload larger than
// Config::max_upload_bytes is answered 413 at any size, before its body is read when its
// length is known (guarded_socket.hpp). Every GET route answers HEAD too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/image_links.hpp"
#include "http/webhook_verifier.hpp"
#include "store/store.hpp"

namespace imgbatch::metrics {
class ServiceMetrics;
}

namespace imgbatch::http {

enum class Surface { api, monitoring };

// What a server may be given besides what every route needs; all of it is fixed at
// construction, so requests read it without a lock.
struct ServerOptions {
  // Serves GET /metrics from these and counts uploads and requests into them; they must
  // outlive the server. None: no GET /metrics, nothing counted.
  metrics::ServiceMetrics* metrics = nullptr;
  // Checks each POST /webhook. None: every notification with a JSON body is taken.
  WebhookVerifier webhook_verifier;
  // api: every route of docs/API.md. monitoring: GET (and HEAD) /health and /metrics only, for
  // a process without the API (`imgbatch worker --metrics-listen`).
  Surface surface = Surface::api;
  // The image URLs that status and output CSV hand out (--image-urls). None: proxy links
  // under config.effective_public_url().
  std::shared_ptr<const core::ImageLinks> image_links;
};

// True when `listen` (--listen) is a loopback address (127.0.0.0/8, ::1, localhost): only
// this machine can connect. False for any other address and for a malformed one.
bool listens_on_loopback(std::string_view listen);

class Server {
 public:
  // The references must outlive the server.
  Server(const core::Config& config, store::Store& store, blob::BlobStore& blob,
         ServerOptions options = {});
  ~Server();  // stops the server if it runs
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens on config.listen and returns once connections are accepted. Throws
  // std::runtime_error naming the address for a malformed --listen or a failed bind.
  void start();
  // The bound port; with "HOST:0" the one the system chose. 0 before start().
  std::uint16_t port() const;
  // Stops accepting, ends the connections and joins the threads. Safe to call twice.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgbatch::http
