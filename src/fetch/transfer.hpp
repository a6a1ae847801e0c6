// One reusable download slot: a curl easy handle configured once with the fetcher's
// limits, plus the state of the download it currently carries. The fetcher keeps a pool
// of these so handles (and their buffers) are reused; connections and DNS answers are
// shared through the multi handle they are added to.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>

#include "fetch/fetcher.hpp"
#include "outcome.hpp"

namespace imgbatch::fetch::impl {

// Settings every transfer of one fetcher shares; outlives the transfers.
struct TransferSettings {
  FetchLimits limits;
  AddressFilter filter;  // empty: every address allowed
};

class Transfer {
 public:
  // Throws std::runtime_error when curl cannot be set up (a start-up failure).
  explicit Transfer(const TransferSettings& settings);
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* easy() const { return easy_; }
  static Transfer* of(CURL* easy);

  // Readies the handle for a new download (the previous one has ended).
  // With validators, the request is conditional (If-None-Match, If-Modified-Since).
  void begin(std::string url, FetchCallback on_done, const Validators& validators = {});
  // The result of the download that just ended with `code`; hands over the body.
  FetchResult finish(CURLcode code);
  // The result for a download abandoned because the fetcher stops.
  FetchResult cancel();
  FetchCallback take_callback() { return std::move(on_done_); }
  bool active() const { return static_cast<bool>(on_done_); }

 private:
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self);
  static int on_resolver_start(void* resolver_state, void* reserved, void* self);
  static curl_socket_t on_open_socket(void* self, curlsocktype purpose, curl_sockaddr* address);
  // Called once connected (or on a reused connection), before the request is sent.
  static int on_connected(void* self, char* remote_ip, char* local_ip, int remote_port,
                          int local_port);
  void header_line(std::string_view line);
  double elapsed_seconds() const;

  const TransferSettings& settings_;
  CURL* easy_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};

  // The download in progress.
  FetchCallback on_done_;
  std::string body_;
  TransferFacts facts_;
  std::size_t discarded_ = 0;  // bytes of a non-2xx body read and dropped
  bool conditional_ = false;   // validators were sent: a 304 is an answer, not a failure
  curl_slist* headers_ = nullptr;
  Validators validators_;  // of the last response
  std::chrono::steady_clock::time_point started_;
};

}  // namespace imgbatch::fetch::impl
