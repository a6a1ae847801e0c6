// ceph_cluster_main: a throwaway Ceph cluster with an S3 gateway for shell scripts and
// benchmarks (tests/support/ceph_cluster.hpp). Prints one line
//   endpoint=http://127.0.0.1:PORT access_key=… secret_key=… region=… bucket=…
// once the gateway answers (with a fresh bucket), then keeps the cluster until its
// standard input closes or it gets SIGTERM/SIGINT, and tears it down. Killed with SIGKILL,
// its daemons die with it. Exit status 1 when the cluster cannot start (the reason on
// stderr).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <iostream>

#include "support/ceph_cluster.hpp"

int main() {
  using imgbatch::test_support::CephCluster;
  // Blocked before the cluster starts, so that a SIGTERM during start-up is not lost and
  // the daemons (children) do not inherit a default handler mid-way; read via signalfd.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::perror("signalfd");
    return 1;
  }
  try {
    CephCluster cluster;
    std::cout << "endpoint=" << cluster.endpoint() << " access_key=" << CephCluster::kAccessKey
              << " secret_key=" << CephCluster::kSecretKey << " region=" << CephCluster::kRegion
              << " bucket=" << cluster.create_bucket() << std::endl;
    pollfd waits[2] = {{STDIN_FILENO, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    for (;;) {
      if (poll(waits, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (waits[1].revents) break;
      if (waits[0].revents) {
        char buffer[256];
        const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) break;  // closed (or unreadable): tear down
      }
    }
  } catch (const std::exception& error) {
    std::cerr << error.what() << "\n";
    return 1;
  }
  return 0;
}
