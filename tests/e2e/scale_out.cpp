#include "scale_out.hpp"

#include <fstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <vips/vips8>

namespace imgbatch::test_support {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

PostgresCluster& cluster() { return PostgresCluster::shared(); }

const fs::path& small_photo_dir() {
  static TempDir folder;
  static const bool made = [] {
    if (VIPS_INIT("scale_out") != 0) throw std::runtime_error("vips_init failed");
    vips::VImage::thumbnail((TestOrigin::photos_dir() / "Garden.jpg").c_str(), kSmallWidth)
        .jpegsave((folder.path() / kSmallName).c_str());
    return true;
  }();
  (void)made;
  return folder.path();
}

bool is_jpeg(const std::string& bytes) {
  return bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string make_csv(const TestOrigin& origin, int images, int sleep_ms) {
  std::string csv = "S. No.,Product Name,Input Image Urls\n";
  for (int i = 0; i < images; ++i)
    csv += std::to_string(i + 1) + ",SKU" + std::to_string(i + 1) + "," +
           origin.url("/sleep/" + std::to_string(sleep_ms) + "/" + kSmallName +
                      "?v=" + std::to_string(i)) +
           "\n";
  return csv;
}

std::string make_held_csv(const TestOrigin& origin, int images, int fast) {
  std::string csv = "S. No.,Product Name,Input Image Urls\n";
  for (int i = 0; i < images; ++i)
    csv += std::to_string(i + 1) + ",SKU" + std::to_string(i + 1) + "," +
           origin.url(std::string(i < fast ? "/photos/" : "/hold/") + kSmallName +
                      "?v=" + std::to_string(i)) +
           "\n";
  return csv;
}

std::string upload(const HttpClient& client, const std::string& csv) {
  const auto response = client.post_form("/upload", {{"file", csv, "p.csv", "text/csv"}});
  EXPECT_EQ(response.status, 202) << response.body;
  return response.status == 202 ? response.json()["request_id"].get<std::string>() : "";
}

int succeeded(const HttpClient& client, const std::string& id) {
  const auto response = client.get("/status?request_id=" + id + "&limit=1");
  return response.status == 200 ? response.json()["progress"]["succeeded"].get<int>() : -1;
}

bool wait_for_succeeded(const HttpClient& client, const std::string& id, int count,
                        std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (succeeded(client, id) >= count) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

nlohmann::json wait_until_ended(const HttpClient& client, const std::string& id,
                                std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  nlohmann::json doc;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto response = client.get("/status?request_id=" + id);
    if (response.status == 200) {
      doc = response.json();
      if (doc["status"] == "completed" || doc["status"] == "failed" || doc["status"] == "cancelled")
        return doc;
    }
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "request " << id << " did not end within " << timeout.count()
                << " s; last status: " << doc.dump().substr(0, 500);
  return doc;
}

Deployment::Deployment(int lease_seconds, DeploymentStorage storage)
    : database_(cluster().create_database()),
      lease_seconds_(lease_seconds),
      storage_(std::move(storage)) {
  if (storage_.args.empty()) {
    fs::create_directories(this->storage());
    storage_.args = {"--storage", "file:" + this->storage().string()};
  }
}

std::string Deployment::db_uri() const { return cluster().uri(database_); }

ApiNode& Deployment::start_api(const std::string& name,
                               const std::vector<std::string>& extra_args) {
  auto node = std::make_unique<ApiNode>();
  node->port = free_port();
  auto args = common_args();
  args.insert(args.begin(),
              {"serve", "--workers", "0", "--listen", "127.0.0.1:" + std::to_string(node->port)});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const auto argv = command(name, {}, args);
  node->process = std::make_unique<ChildProcess>(
      argv.front(), std::vector(argv.begin() + 1, argv.end()), log_path(name), storage_.env);
  if (!node->process->wait_for_port(node->port, 30s))
    ADD_FAILURE() << name << " did not start listening; its log:\n" << node->process->log();
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

ChildProcess& Deployment::start_worker(const std::string& name, int download_concurrency,
                                       const std::vector<std::string>& wrapper) {
  auto args = common_args();
  args.insert(args.begin(), {"worker", "--workers", "1", "--download-concurrency",
                             std::to_string(download_concurrency)});
  const auto argv = command(name, wrapper, args);
  workers_.push_back(std::make_unique<ChildProcess>(
      argv.front(), std::vector(argv.begin() + 1, argv.end()), log_path(name), storage_.env));
  return *workers_.back();
}

void Deployment::wait_for_workers() {
  for (auto& worker : workers_) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (worker->log().find("imgbatch worker:") == std::string::npos) {
      if (!worker->running() || std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "a worker did not start; its log:\n" << worker->log();
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
}

std::vector<std::string> Deployment::query(const std::string& sql) const {
  return cluster().column(database_, sql);
}

std::string Deployment::logs() const {
  std::string all;
  for (const auto& entry : fs::directory_iterator(folder_.path()))
    if (entry.path().extension() == ".log")
      all += "--- " + entry.path().filename().string() + "\n" + read_file(entry.path());
  return all.size() > 20000 ? all.substr(all.size() - 20000) : all;
}

std::vector<std::string> Deployment::common_args() const {
  std::vector<std::string> args = {"--db", db_uri(), "--allow-private-networks", "--lease-seconds",
                                   std::to_string(lease_seconds_)};
  args.insert(args.end(), storage_.args.begin(), storage_.args.end());
  return args;
}

std::string Deployment::log_path(const std::string& name) const {
  return (folder_.path() / (name + ".log")).string();
}

std::vector<std::string> Deployment::command(const std::string& name,
                                             const std::vector<std::string>& wrapper,
                                             const std::vector<std::string>& args) const {
  if (!storage_.own_working_directories) return wrapped_command(wrapper, IMGBATCH_EXE, args);
  const auto cwd = folder_.path() / ("cwd-" + name);
  fs::create_directories(cwd);
  // env(1) changes directory and then runs the rest: the wrapper, if any, and the binary.
  std::vector<std::string> in_cwd = {"/usr/bin/env", "-C", cwd.string()};
  const auto inner = wrapped_command(wrapper, IMGBATCH_EXE, args);
  in_cwd.insert(in_cwd.end(), inner.begin(), inner.end());
  return in_cwd;
}

}  // namespace imgbatch::test_support
