// Scale-out deployments for end-to-end tests: API-only nodes (`serve --workers 0`) and
// worker processes (`worker --workers 1`) of the real binary on one database of the
// shared throwaway PostgreSQL cluster (tests/support/postgres_cluster.hpp), as behind a
// load balancer, with one shared storage: a folder by default, or whatever the test names
// (an s3:// bucket). The origin of the images is a TestOrigin serving one small photo
// under many distinct URLs (make_csv), slowly when asked, so that work spreads out.
// Used by postgres_e2e_test.cpp and s3_e2e_test.cpp.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/postgres_cluster.hpp"
#include "support/temp_dir.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {

inline constexpr int kSmallWidth = 160;
inline constexpr const char* kSmallName = "small.jpg";

PostgresCluster& cluster();

// A folder holding one small JPEG (kSmallName, kSmallWidth wide) made from a test photo:
// hundreds of full-size photos would make the compress threads, not the scale-out, the
// subject (and the tests slow).
const std::filesystem::path& small_photo_dir();

bool is_jpeg(const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

// One image per product: /sleep/MS/small.jpg?v=I, distinct URLs for one file.
std::string make_csv(const TestOrigin& origin, int images, int sleep_ms);
// The first `fast` images at once, the rest held at the origin (/hold/) until /release:
// work that is sure to be in hand, and unfinished, when the test acts.
std::string make_held_csv(const TestOrigin& origin, int images, int fast);
// Uploads `csv`; the new request's id, or "" (with a failure recorded).
std::string upload(const HttpClient& client, const std::string& csv);
// Images succeeded so far; -1 while the node cannot say (e.g. a 503 while the database is
// away).
int succeeded(const HttpClient& client, const std::string& id);
// Polls until at least `count` images succeeded; false on timeout.
bool wait_for_succeeded(const HttpClient& client, const std::string& id, int count,
                        std::chrono::seconds timeout);
// The whole status document once the request has ended (or the last one seen).
nlohmann::json wait_until_ended(const HttpClient& client, const std::string& id,
                                std::chrono::seconds timeout);

struct ApiNode {
  int port = 0;
  std::unique_ptr<ChildProcess> process;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port); }
  HttpClient client() const { return HttpClient(base_url()); }
};

// Where a deployment keeps its images. Empty `args`: a folder of its own that every
// process shares (`--storage file:…`), as a mounted file system would be.
struct DeploymentStorage {
  std::vector<std::string> args;  // e.g. {"--storage", "s3://b", "--s3-endpoint", …}
  Environment env;                // e.g. the AWS_* credentials
  // Each process runs in an empty working directory of its own (`env -C DIR`), so that
  // nothing on disk could be shared behind the test's back.
  bool own_working_directories = false;
};

// One database of the shared cluster, one storage, and the processes on them.
class Deployment {
 public:
  explicit Deployment(int lease_seconds, DeploymentStorage storage = {});

  std::string db_uri() const;
  // The shared folder (only when the storage is the default one).
  std::filesystem::path storage() const { return folder_.path() / "images"; }
  // Where logs, the default storage and the processes' working directories are.
  const std::filesystem::path& folder() const { return folder_.path(); }

  ApiNode& start_api(const std::string& name, const std::vector<std::string>& extra_args = {});
  // `wrapper`: a command that runs the binary (wrapped_command), e.g. unshare(1).
  ChildProcess& start_worker(const std::string& name, int download_concurrency,
                             const std::vector<std::string>& wrapper = {});
  // Until every worker has opened the database and is about to claim (its start-up line).
  void wait_for_workers();

  std::vector<std::string> query(const std::string& sql) const;
  long long number(const std::string& sql) const { return std::stoll(query(sql).at(0)); }

  // Every log, for a failure message.
  std::string logs() const;

 private:
  std::vector<std::string> common_args() const;
  std::string log_path(const std::string& name) const;
  // `program args…`, in a working directory of its own when the storage asks for it.
  std::vector<std::string> command(const std::string& name, const std::vector<std::string>& wrapper,
                                   const std::vector<std::string>& args) const;

  TempDir folder_;
  std::string database_;
  int lease_seconds_;
  DeploymentStorage storage_;
  // Declared last: destroyed (SIGKILLed) first, while the folder still exists.
  std::vector<std::unique_ptr<ApiNode>> nodes_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

}  // namespace imgbatch::test_support
