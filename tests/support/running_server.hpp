// A running `imgbatch serve` for end-to-end tests: the real binary as a child process on a
// free port, with its database and images in a temporary folder. Its users define
// IMGBATCH_EXE, the path of the binary (tests/e2e/CMakeLists.txt does).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch::test_support {

// `imgbatch serve` in a child process, on a free port, with SQLite and file storage in a
// temporary folder. Private networks are allowed because the test origin is on loopback.
class RunningServer {
 public:
  // `reuse_folder`: run on the database and images of an earlier server (a restart);
  // `env`: extra environment variables, e.g. IMGBATCH_WEBHOOK_RETRY_BASE; `wrapper`: a
  // command that runs the binary, e.g. unshare(1) (wrapped_command).
  explicit RunningServer(std::vector<std::string> extra_args = {},
                         const std::filesystem::path* reuse_folder = nullptr,
                         const Environment& env = {}, const std::vector<std::string>& wrapper = {})
      : port_(free_port()) {
    folder_ = reuse_folder ? *reuse_folder : owned_.path();
    std::vector<std::string> args = {"serve",
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--db",
                                     "sqlite:" + (folder_ / "db.sqlite").string(),
                                     "--storage",
                                     "file:" + (folder_ / "images").string(),
                                     "--allow-private-networks",
                                     "--workers",
                                     "2"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    const auto command = wrapped_command(wrapper, IMGBATCH_EXE, args);
    process_ = std::make_unique<ChildProcess>(command.front(),
                                              std::vector(command.begin() + 1, command.end()),
                                              (folder_ / "server.log").string(), env);
    if (!process_->wait_for_port(port_, std::chrono::seconds(20)))
      ADD_FAILURE() << "imgbatch did not start listening; its log:\n" << process_->log();
  }

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  HttpClient client() const { return HttpClient(base_url()); }
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
        if (doc["status"] == "completed" || doc["status"] == "failed" ||
            doc["status"] == "cancelled")
          return doc;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "request " << request_id << " did not end in time; last status: " << doc.dump()
                  << "\nlog:\n"
                  << process_->log();
    return doc;
  }

 private:
  TempDir owned_;
  std::filesystem::path folder_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace imgbatch::test_support
