// TcpProxy: a TCP proxy on loopback that can break one connection at a chosen moment, for
// tests of what a client does when the network fails mid-conversation — above all the
// PostgreSQL "COMMIT sent, answer lost" case, where the client cannot know whether its
// transaction was saved. Each accepted connection is forwarded to 127.0.0.1:TARGET, byte
// for byte, in both directions, by one thread of the proxy's own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace imgbatch::test_support {

class TcpProxy {
 public:
  // Listens on a free loopback port; throws std::runtime_error when it cannot.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  enum class Cut {
    // The message reaches the server, which acts on it; its answer is awaited (up to 10 s)
    // and dropped. The client sees its connection end without an answer.
    after_server_answers,
    // The message is dropped, never sent; the server sees its client go away.
    before_forwarding,
  };
  // Arms a one-shot cut: on the first connection whose client sends `trigger` and then,
  // later in the same connection (in the same or a later read), `cut_at`, the read that
  // holds `cut_at` is treated as `how` says and both sides of that connection are closed.
  // An empty trigger matches at once. Other connections, and new ones, are not touched.
  void arm_cut(std::string trigger, std::string cut_at, Cut how = Cut::after_server_answers);
  // Waits until the armed cut has happened; false after `timeout`.
  bool wait_for_cut(std::chrono::milliseconds timeout);
  bool cut_done() const;

  // Connections accepted so far (a client that reconnects after a cut is counted again).
  int connections_accepted() const { return accepted_.load(); }

  // The PostgreSQL frontend message of a `COMMIT` sent as a simple query (what libpq's
  // PQexec("COMMIT") writes): 'Q', its length (11) in four bytes, the text, a NUL.
  static std::string postgres_commit_message();

 private:
  struct Pair;
  void run();
  // What a chunk that the client of `pair` sent means for an armed cut.
  bool chunk_triggers_cut(Pair& pair, const std::string& chunk);

  int listen_fd_ = -1;
  int port_ = 0;
  int target_port_ = 0;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<int> accepted_{0};
  std::atomic<bool> stop_{false};

  mutable std::mutex mutex_;
  std::condition_variable cut_cv_;
  std::string trigger_, cut_at_;
  Cut how_ = Cut::after_server_answers;
  bool armed_ = false;
  bool cut_done_ = false;
  unsigned arming_ = 0;  // counts arm_cut calls, so that a pair's progress is per arming

  std::thread thread_;
};

}  // namespace imgbatch::test_support
