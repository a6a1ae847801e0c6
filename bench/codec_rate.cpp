// The ceiling for imgbatch's design: imaging::compress() (decode + EXIF orientation +
// sRGB + q50 JPEG encode, one libvips thread per call) over photos already in memory,
// called from N threads at once, with no network, database or disk in the way. The end
// to end rate of `imgbatch serve` is compared against this figure (bench/run.sh).
//
// Usage: codec_rate [--threads N] [--seconds S] [--min-images M] [--full-path] FILE...
// Prints one line of `key=value` pairs, e.g.
//   codec_rate threads=2 … images=140 seconds=10.02 images_per_s=13.97 cpu_s=… cpu_ms_per_image=…
// Every thread takes the next image from a shared counter (round robin over the files)
// until both S seconds have passed and M images are done, so every file weighs the same.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "imaging/compressor.hpp"
#include "imaging/dct_requantise.hpp"

namespace {

struct Options {
  unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  double seconds = 10.0;
  long long min_images = 0;
  std::vector<std::string> files;
  // Every image through libvips (decode, orient, encode), never the DCT-domain shortcut:
  // the ceiling of the design as the performance issue defines it.
  bool full_path = false;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "codec_rate: %s\nusage: codec_rate [--threads N] [--seconds S] "
               "[--min-images M] [--full-path] FILE...\n",
               message);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--threads" && has_value) {
      options.threads = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (arg == "--seconds" && has_value) {
      options.seconds = std::atof(argv[++i]);
    } else if (arg == "--full-path") {
      options.full_path = true;
    } else if (arg == "--min-images" && has_value) {
      options.min_images = std::atoll(argv[++i]);
    } else if (arg.starts_with("--")) {
      usage("unknown option or missing value");
    } else {
      options.files.emplace_back(arg);
    }
  }
  if (options.files.empty()) usage("no input files");
  return options;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "codec_rate: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// CPU seconds used by the whole process so far, all threads: a figure that other load on a
// shared machine disturbs much less than the wall-clock rate.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const Options options = parse(argc, argv);
  imgbatch::imaging::init_vips(argv[0]);

  std::vector<std::string> inputs;
  for (const auto& file : options.files) inputs.push_back(read_file(file));

  // One untimed pass, so that libvips' lazy start-up (plugins, format tables) and the
  // page cache are not counted.
  const imgbatch::imaging::EncodeOptions encode{.quality = 50};
  const auto compress = [&](const std::string& input) {
    return options.full_path ? imgbatch::imaging::compress_full(input, encode)
                             : imgbatch::imaging::compress(input, encode);
  };
  for (const auto& input : inputs) {
    if (auto result = compress(input); !result) {
      std::fprintf(stderr, "codec_rate: warm-up failed: %s\n", result.error().message.c_str());
      return 1;
    }
  }

  std::atomic<long long> next{0};
  std::atomic<long long> bytes_in{0};
  std::atomic<long long> bytes_out{0};
  std::atomic<long long> failures{0};
  const double cpu_start = cpu_seconds();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(options.seconds);
  std::atomic<long long> done{0};

  std::vector<std::thread> threads;
  for (unsigned t = 0; t < options.threads; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const long long index = next.fetch_add(1);
        // Bounded: stop once the time is up and the minimum count is reached.
        if (index >= options.min_images && Clock::now() >= deadline) break;
        const auto& input = inputs[static_cast<std::size_t>(index) % inputs.size()];
        auto result = compress(input);
        if (!result) {
          failures.fetch_add(1);
          continue;
        }
        bytes_in.fetch_add(static_cast<long long>(input.size()));
        bytes_out.fetch_add(static_cast<long long>(result->bytes.size()));
        done.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_start;

  std::printf(
      "codec_rate path=%s threads=%u files=%zu images=%lld failures=%lld seconds=%.3f "
      "images_per_s=%.3f cpu_s=%.3f cpu_ms_per_image=%.2f bytes_in=%lld bytes_out=%lld\n",
      options.full_path ? "full" : "shipped", options.threads, inputs.size(), done.load(),
      failures.load(), elapsed, static_cast<double>(done.load()) / elapsed, cpu,
      done.load() > 0 ? cpu * 1000.0 / static_cast<double>(done.load()) : 0.0, bytes_in.load(),
      bytes_out.load());
  return failures.load() == 0 ? 0 : 1;
}
