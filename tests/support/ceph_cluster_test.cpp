// The test cluster itself: it starts, and its gateway is a working S3 server that checks
// signatures — the S3 backend's tests rely on both.
#include "support/ceph_cluster.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace imgbatch::test_support {
namespace {

TEST(CephClusterTest, GatewayStoresAndReturnsObjectsWithSignedRequests) {
  CephCluster& cluster = CephCluster::shared();
  EXPECT_EQ(cluster.endpoint(), "http://127.0.0.1:" + std::to_string(cluster.port()));
  const std::string bucket = cluster.create_bucket();
  EXPECT_TRUE(cluster.list_keys(bucket).empty());

  const std::string body = "the bytes of an image\n";
  const auto put =
      cluster.request("PUT", "/" + bucket + "/out/a.webp", body, {"Content-Type: image/webp"});
  ASSERT_EQ(put.status, 200) << put.error << put.body;
  const auto get = cluster.request("GET", "/" + bucket + "/out/a.webp");
  ASSERT_EQ(get.status, 200) << get.error << get.body;
  EXPECT_EQ(get.body, body);
  EXPECT_EQ(cluster.list_keys(bucket), std::vector<std::string>{"out/a.webp"});

  const auto missing = cluster.request("GET", "/" + bucket + "/out/none.webp");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("NoSuchKey"), std::string::npos) << missing.body;
}

TEST(CephClusterTest, WrongSecretKeyIsRefused) {
  CephCluster& cluster = CephCluster::shared();
  const std::string bucket = cluster.create_bucket();
  const auto put = cluster.request("PUT", "/" + bucket + "/k", "x", {}, "not-the-secret-key");
  EXPECT_EQ(put.status, 403) << put.error << put.body;
  EXPECT_NE(put.body.find("SignatureDoesNotMatch"), std::string::npos) << put.body;
  EXPECT_TRUE(cluster.list_keys(bucket).empty());
}

TEST(CephClusterTest, ListKeysFollowsContinuationPages) {
  CephCluster& cluster = CephCluster::shared();
  const std::string bucket = cluster.create_bucket();
  std::vector<std::string> expected;
  for (int i = 0; i < 1005; ++i) expected.push_back("k/" + std::to_string(10000 + i) + "&<x>");
  for (const auto& key : expected) {
    // '&', '<' and '>' percent-encoded in the path; list_keys must undo the XML escaping.
    std::string path = "/" + bucket + "/";
    for (const char c : key)
      path += c == '&' ? "%26" : c == '<' ? "%3C" : c == '>' ? "%3E" : std::string(1, c);
    ASSERT_EQ(cluster.request("PUT", path, "v").status, 200);
  }
  std::vector<std::string> keys = cluster.list_keys(bucket);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, expected);  // more than one page of 1000
}

TEST(CephClusterTest, GatewayStopsAndStartsAgainOnTheSamePort) {
  CephCluster& cluster = CephCluster::shared();
  const std::string bucket = cluster.create_bucket();
  ASSERT_EQ(cluster.request("PUT", "/" + bucket + "/kept", "data").status, 200);
  const int port = cluster.port();
  cluster.stop_gateway();
  const auto refused = cluster.request("GET", "/" + bucket + "/kept");
  EXPECT_EQ(refused.status, 0);
  EXPECT_FALSE(refused.error.empty());
  cluster.start_gateway();
  EXPECT_EQ(cluster.port(), port);
  const auto get = cluster.request("GET", "/" + bucket + "/kept");
  EXPECT_EQ(get.status, 200) << get.error << get.body;
  EXPECT_EQ(get.body, "data");
  // A new bucket after the restart: the cluster's metadata writes still go through.
  EXPECT_NO_THROW(cluster.create_bucket());
}

// A test process killed with SIGKILL takes its daemons with it, and the next cluster
// removes its folder.
TEST(CephClusterTest, KilledOwnerLeavesNoDaemonAndItsFolderIsSwept) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t owner = fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    close(pipe_fds[0]);
    std::string line;
    try {
      auto* cluster = new CephCluster();  // never destroyed: this process is killed
      line = cluster->dir().string();
      for (const pid_t pid : cluster->daemon_pids()) line += " " + std::to_string(pid);
    } catch (const std::exception& error) {
      line = std::string("error ") + error.what();
    }
    line += "\n";
    if (write(pipe_fds[1], line.data(), line.size()) < 0) _exit(1);
    pause();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string line;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    line.append(buffer, n);
    if (line.back() == '\n') break;
  }
  close(pipe_fds[0]);
  kill(owner, SIGKILL);
  waitpid(owner, nullptr, 0);
  ASSERT_FALSE(line.starts_with("error")) << line;
  std::istringstream fields(line);
  std::string dir;
  fields >> dir;
  ASSERT_TRUE(std::filesystem::exists(dir)) << line;
  std::vector<pid_t> daemons;
  for (long pid; fields >> pid;) daemons.push_back(static_cast<pid_t>(pid));
  ASSERT_EQ(daemons.size(), 3u) << line;
  for (const pid_t pid : daemons) {
    // Not our children: poll until each is gone (SIGKILL from the kernel is immediate, but
    // the exit itself takes a moment on a loaded machine).
    bool gone = false;
    for (int i = 0; i < 3000 && !gone; ++i) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      // Gone, or a zombie waiting for init to reap it.
      gone = text.empty() || text.find(") Z") != std::string::npos;
      if (!gone) usleep(10000);
    }
    EXPECT_TRUE(gone) << "daemon " << pid << " outlived its owner";
  }
  { CephCluster sweeper; }  // a new cluster sweeps the folders of dead owners at start
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

}  // namespace
}  // namespace imgbatch::test_support
