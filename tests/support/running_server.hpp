// Shared pieces of the end-to-end tests: a temporary folder, and a running `imgbatch serve`
// on a free port with its database and images in that folder.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/process.hpp"
#include "integration/http_client.hpp"

namespace imgbatch::testing {

class TempFolder {
 public:
  TempFolder() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("imgbatch-e2e-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// `imgbatch serve` in a child process, on a free port, with SQLite and file storage in a
// temporary folder. Private networks are allowed because the test origin is on loopback.
class RunningServer {
 public:
  // `reuse_folder`: run on the database and images of an earlier server (a restart);
  // `env`: extra environment variables, e.g. IMGBATCH_WEBHOOK_RETRY_BASE.
  explicit RunningServer(std::vector<std::string> extra_args = {},
                         const std::filesystem::path* reuse_folder = nullptr,
                         const Environment& env = {})
      : port_(free_port()) {
    folder_ = reuse_folder ? *reuse_folder : owned_.path();
    std::vector<std::string> args = {"serve",
                                     "--listen", "127.0.0.1:" + std::to_string(port_),
                                     "--db", "sqlite:" + (folder_ / "db.sqlite").string(),
                                     "--storage", "file:" + (folder_ / "images").string(),
                                     "--allow-private-networks",
                                     "--workers", "2"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<ChildProcess>(IMGBATCH_EXE, args,
                                              (folder_ / "server.log").string(), env);
    if (!process_->wait_for_port(port_, std::chrono::seconds(20)))
      ADD_FAILURE() << "imgbatch did not start listening; its log:\n" << process_->log();
  }

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  testutil::HttpClient client() const { return testutil::HttpClient(base_url()); }
  ChildProcess& process() { return *process_; }
  const std::filesystem::path& folder() const { return folder_; }

  // Polls GET /status until the request is completed or failed; returns the last document.
  nlohmann::json wait_until_ended(const std::string& request_id,
                                  std::chrono::seconds timeout = std::chrono::seconds(90)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json doc;
    while (std::chrono::steady_clock::now() < deadline) {
      auto response = client().get("/status?request_id=" + request_id);
      if (response.status == 200) {
        doc = response.json();
        if (doc["status"] == "completed" || doc["status"] == "failed") return doc;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "request " << request_id << " did not end in time; last status: "
                  << doc.dump() << "\nlog:\n" << process_->log();
    return doc;
  }

 private:
  TempFolder owned_;
  std::filesystem::path folder_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace imgbatch::testing
