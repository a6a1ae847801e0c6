// Latency of BlobStore::put, the way the pipeline calls it: THREADS threads each putting
// whole compressed images (the files given, round robin) under fresh keys, for PUTS puts
// in all. Storage as `imgbatch --storage` takes it (file:DIR or s3://BUCKET/PREFIX; S3
// settings from --s3-endpoint/--s3-region and the AWS_* variables).
//
//   blob_put_latency --storage URI [--s3-endpoint URL] [--s3-region R] [--threads N]
//                    [--puts N] FILE...
//
// One line:  blob_put_latency storage=s3 puts=… threads=… bytes_mean=… p50_ms=… p90_ms=…
//            p99_ms=… max_ms=… puts_per_s=…
// Exits 1 if a put fails, so that a figure is never printed for a run that lost images.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double percentile(std::vector<double> sorted, double p) {
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string storage;
  imgbatch::blob::BlobStoreOptions options;
  int threads = 4;
  int puts = 400;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--storage")
      storage = next();
    else if (arg == "--s3-endpoint")
      options.s3_endpoint = next();
    else if (arg == "--s3-region")
      options.s3_region = next();
    else if (arg == "--threads")
      threads = std::stoi(next());
    else if (arg == "--puts")
      puts = std::stoi(next());
    else
      images.push_back(read_file(arg));
  }
  if (storage.empty() || images.empty() || threads < 1 || puts < 1) {
    std::fprintf(stderr,
                 "usage: blob_put_latency --storage URI [--threads N] [--puts N] FILE...\n");
    return 2;
  }
  // Like a process that stores images for a request: every put is fsynced when the file
  // backend is used, as imgbatch does.
  const auto blobs = imgbatch::blob::open_blob_store(storage, options);
  const std::string run =
      std::to_string(::getpid()) + "-" + std::to_string(Clock::now().time_since_epoch().count());

  std::atomic<int> next_put{0};
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::vector<double> millis;
  std::atomic<long long> bytes{0};
  const auto started = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (int n = next_put++; n < puts; n = next_put++) {
        const auto& image = images[static_cast<std::size_t>(n) % images.size()];
        const auto begin = Clock::now();
        const auto stored = blobs->put("bench-" + run + "/" + std::to_string(n) + ".jpg", image);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
        if (!stored) {
          std::fprintf(stderr, "put %d failed: %s\n", n, stored.message().c_str());
          ++failures;
          continue;
        }
        bytes += static_cast<long long>(image.size());
        const std::lock_guard lock(mutex);
        millis.push_back(ms);
      }
    });
  for (auto& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (failures > 0 || millis.empty()) return 1;
  std::sort(millis.begin(), millis.end());
  std::printf(
      "blob_put_latency storage=%s puts=%d threads=%d bytes_mean=%lld p50_ms=%.2f p90_ms=%.2f "
      "p99_ms=%.2f max_ms=%.2f puts_per_s=%.1f\n",
      storage.substr(0, storage.find(':')).c_str(), puts, threads,
      bytes.load() / static_cast<long long>(millis.size()), percentile(millis, 0.5),
      percentile(millis, 0.9), percentile(millis, 0.99), millis.back(),
      static_cast<double>(millis.size()) / seconds);
  return 0;
}
