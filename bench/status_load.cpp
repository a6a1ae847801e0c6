// A fixed-rate HTTP load for one URL on loopback, for the GET /status latency target
// ("p99 <= 5 ms at 2,000 requests/s"). wrk sends as fast as it can and wrk2, which holds a
// rate, is not in Debian, so this is the small open-loop generator the benchmark needs.
//
// CONNECTIONS threads each own one keep-alive connection and send on a fixed schedule
// (RATE / CONNECTIONS per second, staggered). Latency is measured from the moment a
// request was *due*, not from when it was sent: when the server falls behind, the waiting
// counts (no coordinated omission), so a stall shows in the percentiles.
//
//   status_load HOST PORT PATH RATE SECONDS CONNECTIONS
// prints one line: requests=… errors=… achieved_rps=… p50_ms=… p90_ms=… p99_ms=… p999_ms=… max_ms=…
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  int port = 0;
  std::string path;
};

int connect_to(const Target& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(target.port));
  if (::inet_pton(AF_INET, target.host.c_str(), &address.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Reads one response (headers + Content-Length body). False on any error or a non-200.
bool read_response(int fd, std::string& buffer) {
  buffer.clear();
  std::size_t header_end = std::string::npos;
  std::size_t body_length = 0;
  char chunk[16384];
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = buffer.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        if (buffer.compare(0, 12, "HTTP/1.1 200") != 0) return false;
        // Header names are case-insensitive; RESTinio writes "Content-Length".
        std::string lower = buffer.substr(0, header_end);
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        const auto at = lower.find("content-length:");
        if (at == std::string::npos) return false;
        body_length = std::strtoul(lower.c_str() + at + 15, nullptr, 10);
      }
    }
    if (header_end != std::string::npos && buffer.size() >= header_end + 4 + body_length)
      return true;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

struct Worker {
  std::vector<double> latencies_ms;
  long errors = 0;
};

void run_worker(const Target& target, Clock::time_point start, Clock::duration interval,
                Clock::duration offset, Clock::time_point end, Worker& out) {
  const std::string request = "GET " + target.path + " HTTP/1.1\r\nHost: " + target.host +
                              "\r\nConnection: keep-alive\r\n\r\n";
  int fd = connect_to(target);
  std::string buffer;
  for (Clock::time_point due = start + offset; due < end; due += interval) {
    std::this_thread::sleep_until(due);
    if (fd < 0) fd = connect_to(target);
    const bool ok = fd >= 0 &&
                    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                        static_cast<ssize_t>(request.size()) &&
                    read_response(fd, buffer);
    if (!ok) {
      ++out.errors;
      if (fd >= 0) ::close(fd);
      fd = -1;
      continue;
    }
    out.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - due).count());
  }
  if (fd >= 0) ::close(fd);
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s HOST PORT PATH RATE SECONDS CONNECTIONS\n", argv[0]);
    return 2;
  }
  const Target target{argv[1], std::atoi(argv[2]), argv[3]};
  const double rate = std::atof(argv[4]);
  const double seconds = std::atof(argv[5]);
  const int connections = std::max(1, std::atoi(argv[6]));
  if (rate <= 0 || seconds <= 0) {
    std::fprintf(stderr, "RATE and SECONDS must be positive\n");
    return 2;
  }

  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(connections / rate));
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Worker> workers(static_cast<std::size_t>(connections));
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i)
    threads.emplace_back(run_worker, std::cref(target), start, interval, interval * i / connections,
                         end, std::ref(workers[static_cast<std::size_t>(i)]));
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> all;
  long errors = 0;
  for (const auto& worker : workers) {
    all.insert(all.end(), worker.latencies_ms.begin(), worker.latencies_ms.end());
    errors += worker.errors;
  }
  std::sort(all.begin(), all.end());
  std::printf(
      "requests=%zu errors=%ld achieved_rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f "
      "p999_ms=%.2f max_ms=%.2f\n",
      all.size(), errors, static_cast<double>(all.size()) / elapsed, percentile(all, 0.50),
      percentile(all, 0.90), percentile(all, 0.99), percentile(all, 0.999),
      all.empty() ? 0.0 : all.back());
  return errors == 0 ? 0 : 1;
}
