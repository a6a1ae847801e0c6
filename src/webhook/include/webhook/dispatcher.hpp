// Dispatcher: sends the notifications the Store has queued (one per ended request), signed
// as Standard Webhooks, retrying on the schedule in retry_schedule until delivered, told
// to stop (410), or out of attempts. Deliveries are claimed under a lease, so any number of
// processes can run a dispatcher against one database and each notification is in flight
// in one place at a time; what a crash interrupts is sent again after a restart with the
// same webhook-id, so a deduplicating receiver sees it once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/image_links.hpp"
#include "core/types.hpp"
#include "store/store.hpp"

namespace imgbatch::metrics {
class ServiceMetrics;
}

namespace imgbatch::webhook {

struct DispatcherOptions {
  std::optional<std::string> secret;  // "whsec_…"; none: notifications go unsigned
  std::string public_url;             // base of the URLs inside the payload
  // The image URLs inside the payload (--image-urls). None: proxy links under public_url.
  std::shared_ptr<const core::ImageLinks> image_links;
  bool allow_private_networks = false;
  double retry_scale = 1.0;  // multiplies every delay of the schedule (tests shrink it)
  int senders = 2;           // notifications in flight at once
  std::chrono::milliseconds idle_poll{1'000};
  std::chrono::milliseconds timeout{15'000};
  metrics::ServiceMetrics* metrics = nullptr;  // counts each attempt's outcome; not owned
};

class Dispatcher {
 public:
  // Throws std::invalid_argument when the secret is not valid base64.
  Dispatcher(DispatcherOptions options, store::Store& store);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void wake();  // a delivery may be due now
  void stop();  // an attempt in progress ends (at most the timeout) before this returns

 private:
  void loop();
  void deliver(const core::Delivery& delivery);
  std::string payload(const std::string& request_id);
  // Remembers when a retry this process scheduled falls due, so the senders wake for it
  // instead of waiting out a whole idle_poll.
  void note_due(core::TimeMs at);

  core::TimeMs lease_ms() const;

  DispatcherOptions options_;
  std::optional<std::string> key_;  // decoded secret
  store::Store& store_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stopping_ = false;
  core::TimeMs next_due_ = 0;  // earliest retry scheduled here and not yet due; 0: none
  std::vector<std::thread> threads_;
};

}  // namespace imgbatch::webhook
