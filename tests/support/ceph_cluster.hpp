// CephCluster: a real S3 server for the tests — a one-node Ceph cluster of the test's own
// with a RADOS Gateway, in a temporary folder, on free loopback ports, gone when the test
// process ends. No system service, no /etc/ceph and no fixed port is used, so two test
// binaries (ctest -j2) can each run one. It needs only the Debian packages ceph-mon,
// ceph-osd, radosgw and ceph-common (scripts/install-deps.sh installs them); without them
// the constructor throws, saying so, and the tests fail.
//
// What runs: one monitor, one OSD on `memstore` (objects in RAM, nothing on disk but the
// monitor's small store) and one radosgw (beast frontend) — no manager, which nothing here
// needs. Authentication inside the cluster is off (`auth ... required = none` with
// `ms mon client mode = crc`, without which radosgw waits forever for an encrypted monitor
// session); the gateway itself checks S3 signatures against one user created with
// `radosgw-admin user create` and the fixed keys below. `paxos propose interval = 0.01`
// makes the monitor commit at once (the default 1 s made every pool creation slow), and
// pools have one replica. Ceph's src/vstart.sh was the reference.
//
// Cost, measured on the 2-core CI-like machine with ceph_cluster_main: ready in about
// 2.0 s when idle (up to ~6 s while builds run on both cores); about 140 MB resident for
// the three daemons together (mon 36 MB, osd 50 MB, radosgw 55 MB, empty). So a test
// binary shares one cluster (shared()) and gives each test a bucket of its own
// (create_bucket()).
//
// Teardown: the daemons run in the foreground (-f) as children of the thread that made
// the cluster, each set to get SIGKILL when that thread dies (PR_SET_PDEATHSIG), so even
// a test binary that crashes or is killed leaves no daemon running; its folder is swept
// by the next cluster that starts. The destructor stops them and removes the folder.
// Call the constructor, shared(), stop_gateway() and start_gateway() from the main thread
// (see above). A forked child must leave with _exit(), never exit().
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace imgbatch::test_support {

class CephCluster {
 public:
  // Starts the monitor, the OSD and the gateway and creates the S3 user; throws
  // std::runtime_error saying what is missing or what failed (with the log's tail).
  CephCluster();
  ~CephCluster();
  CephCluster(const CephCluster&) = delete;
  CephCluster& operator=(const CephCluster&) = delete;

  // The cluster of this process, started on first use, stopped at exit.
  static CephCluster& shared();

  // "http://127.0.0.1:PORT": the gateway, path-style addressing (http://…/BUCKET/KEY).
  std::string endpoint() const;
  int port() const { return gateway_port_; }

  // The S3 user's keys, fixed so that tests and shell benchmarks can name them.
  static constexpr const char* kAccessKey = "IMGBATCHTESTACCESSKEY";
  static constexpr const char* kSecretKey = "imgbatchTestSecretKey0123456789abcdefABCD";
  // The region SigV4 names. The gateway's zonegroup is "default" and it accepts any region
  // in the credential scope; us-east-1 is what AWS clients use when told nothing.
  static constexpr const char* kRegion = "us-east-1";

  // A new, empty bucket with a name unique in this cluster; returns the name.
  std::string create_bucket();
  void create_bucket(const std::string& name);
  // Every object key in the bucket (ListObjectsV2, all pages), in the gateway's order.
  std::vector<std::string> list_keys(const std::string& bucket);

  // A signed S3 request to the gateway, for tests that need one the methods above do not
  // make: `path` is "/BUCKET" or "/BUCKET/KEY" with an optional "?query" in
  // canonical form (sorted by name, percent-encoded in upper case: curl 7.88 signs it as
  // given); `headers` are "Name: value" lines. The payload is sent as UNSIGNED-PAYLOAD.
  struct Response {
    long status = 0;  // 0 when no HTTP answer came (then `error` says why)
    std::string body;
    std::string error;
  };
  Response request(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::vector<std::string>& headers = {},
                   const std::string& secret_key = kSecretKey) const;

  // Stops radosgw (clients get connection refused) and starts it again on the same port,
  // waiting until it answers.
  void stop_gateway();
  void start_gateway();
  bool gateway_running() const { return gateway_ > 0; }

  // The process ids of the daemons (for measuring them), 0 when not running.
  std::vector<pid_t> daemon_pids() const { return {monitor_, osd_, gateway_}; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void set_up();
  void write_config();
  // Runs a command to completion (output to log/NAME.out); throws with the output when it
  // fails or takes longer than the ready timeout. Returns its standard output.
  std::string run(const std::string& name, const std::vector<std::string>& args);
  // Starts a daemon in the foreground, output to log/NAME.out, killed with this thread.
  pid_t spawn(const std::string& name, const std::vector<std::string>& args,
              const std::filesystem::path& output);
  void spawn_gateway();
  void wait_for_gateway();
  void check_daemons_alive();
  void stop_all();
  std::string log_tail(const std::string& name) const;
  bool port_clash() const;

  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::string fsid_;
  int monitor_port_ = 0;
  int gateway_port_ = 0;
  pid_t monitor_ = 0;
  pid_t osd_ = 0;
  pid_t gateway_ = 0;
  int next_bucket_ = 0;
};

}  // namespace imgbatch::test_support
