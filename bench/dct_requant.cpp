// The experiment of issue "Performance", part 4: for a JPEG that needs no rotation and no
// colour conversion, requantise in the DCT domain (read coefficients, move them onto the
// q50 tables, write them) instead of decoding and re-encoding. Kept in the product only if
// the output is within 3 % of a full re-encode's size and no worse in PSNR against the
// original; this program measures all three on the given files, with the product's own
// functions: imaging::compress_full() (decode + re-encode) against imaging::compress(),
// which takes the DCT-domain path (imaging/dct_requantise.hpp) for eligible inputs.
//
//   dct_requant [--rounds N] FILE...
// Prints one line per file: the path compress() takes, time per image of each path (CPU
// of the process and wall clock, the two paths alternating), their
// ratio, the bytes of each and their ratio, and the PSNR (dB, RGB, against the original
// decoded by libvips) of each; then `dct_requant total=all …` over every file (those
// compress() sends down the full path count with both columns from it) and
// `total=dct_path …` over the files that take the DCT-domain path.
// DCT_ROUNDING=r explores another rounding for the AC coefficients the requantiser
// coarsens (impl::kDctRounding; DC and the rest always round halves away): the DCT
// column then times impl::requantise_jpeg(input, 50, r) alone (without compress()'s
// header read, ~1 ms) instead of the shipped compress().
#include <time.h>

#include <cstdio>

#include <vips/vips.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "imaging/compressor.hpp"
#include "imaging/dct_requantise.hpp"

namespace {

constexpr int kQuality = 50;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<unsigned char> decode_rgb(const std::string& jpeg, int& width, int& height) {
  VipsImage* image = vips_image_new_from_buffer(jpeg.data(), jpeg.size(), "", nullptr);
  if (!image) throw std::runtime_error(vips_error_buffer());
  width = vips_image_get_width(image);
  height = vips_image_get_height(image);
  std::size_t length = 0;
  void* pixels = vips_image_write_to_memory(image, &length);
  g_object_unref(image);
  if (!pixels) throw std::runtime_error(vips_error_buffer());
  std::vector<unsigned char> out(static_cast<unsigned char*>(pixels),
                                 static_cast<unsigned char*>(pixels) + length);
  g_free(pixels);
  return out;
}

double psnr(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
  if (a.size() != b.size() || a.empty()) throw std::runtime_error("images differ in size");
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += d * d;
  }
  const double mse = sum / static_cast<double>(a.size());
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// Time per call, wall clock and CPU of the whole process (libvips runs the pipeline on
// its worker thread, so the calling thread's CPU time alone would miss it). CPU time is
// what the load of other people on the machine disturbs least.
struct Cost {
  double wall_s = 0, cpu_s = 0;
};

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

template <typename F>
void add_cost(Cost& cost, F&& call) {
  const auto wall = std::chrono::steady_clock::now();
  const double cpu = process_cpu_seconds();
  call();
  cost.cpu_s += process_cpu_seconds() - cpu;
  cost.wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
}

// One file's measurements: time per call, bytes and PSNR of each path.
struct Figures {
  Cost full, dct;
  long long full_bytes = 0, dct_bytes = 0;
  double full_psnr = 0, dct_psnr = 0;
};

struct Totals {
  Figures sum;
  double worst_psnr_delta = 1e9;  // smallest dct_psnr - full_psnr of one file
  int files = 0;

  void add(const Figures& f) {
    sum.full.wall_s += f.full.wall_s;
    sum.full.cpu_s += f.full.cpu_s;
    sum.dct.wall_s += f.dct.wall_s;
    sum.dct.cpu_s += f.dct.cpu_s;
    sum.full_bytes += f.full_bytes;
    sum.dct_bytes += f.dct_bytes;
    sum.full_psnr += f.full_psnr;
    sum.dct_psnr += f.dct_psnr;
    worst_psnr_delta = std::min(worst_psnr_delta, f.dct_psnr - f.full_psnr);
    ++files;
  }

  void print(const char* name) const {
    if (files == 0) return;
    const double n = files;
    std::printf(
        "dct_requant total=%s files=%d full_cpu_ms=%.1f dct_cpu_ms=%.1f speedup_cpu=%.2f "
        "full_wall_ms=%.1f dct_wall_ms=%.1f full_bytes=%lld dct_bytes=%lld "
        "size_ratio=%.3f mean_full_psnr=%.3f mean_dct_psnr=%.3f worst_psnr_delta=%.3f\n",
        name, files, sum.full.cpu_s * 1e3, sum.dct.cpu_s * 1e3, sum.full.cpu_s / sum.dct.cpu_s,
        sum.full.wall_s * 1e3, sum.dct.wall_s * 1e3, sum.full_bytes, sum.dct_bytes,
        static_cast<double>(sum.dct_bytes) / static_cast<double>(sum.full_bytes), sum.full_psnr / n,
        sum.dct_psnr / n, worst_psnr_delta);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (VIPS_INIT(argv[0])) return 1;
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  int rounds = 3;
  const char* rounding_env = std::getenv("DCT_ROUNDING");
  const double rounding =
      rounding_env != nullptr ? std::atof(rounding_env) : imgbatch::imaging::impl::kDctRounding;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else
      files.push_back(arg);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: dct_requant [--rounds N] FILE...\n");
    return 2;
  }

  const imgbatch::imaging::EncodeOptions options{kQuality, imgbatch::core::ImageFormat::jpeg,
                                                 100'000'000};
  Totals all, dct_path;
  for (const std::string& file : files) {
    const std::string input = read_file(file);
    std::string full, dct;
    const bool eligible = imgbatch::imaging::dct_eligible(input, options);
    const auto run_full = [&] {
      auto encoded = imgbatch::imaging::compress_full(input, options);
      if (!encoded) throw std::runtime_error(file + ": " + encoded.message());
      full = std::move(encoded->bytes);
    };
    const auto run_dct = [&] {
      if (rounding_env != nullptr && eligible) {
        auto requantised = imgbatch::imaging::impl::requantise_jpeg(input, kQuality, rounding);
        if (!requantised) throw std::runtime_error(file + ": libjpeg refused it");
        dct = std::move(*requantised);
        return;
      }
      auto encoded = imgbatch::imaging::compress(input, options);
      if (!encoded) throw std::runtime_error(file + ": " + encoded.message());
      dct = std::move(encoded->bytes);
    };
    // Alternating, so that a burst of foreign load hits both paths alike.
    Figures figures;
    for (int round = 0; round < rounds; ++round) {
      add_cost(figures.full, run_full);
      add_cost(figures.dct, run_dct);
    }
    for (Cost* cost : {&figures.full, &figures.dct}) {
      cost->wall_s /= rounds;
      cost->cpu_s /= rounds;
    }
    int width = 0, height = 0;
    const auto original = decode_rgb(input, width, height);
    figures.full_bytes = static_cast<long long>(full.size());
    figures.dct_bytes = static_cast<long long>(dct.size());
    figures.full_psnr = psnr(original, decode_rgb(full, width, height));
    figures.dct_psnr = psnr(original, decode_rgb(dct, width, height));
    std::printf(
        "dct_requant file=%s path=%s full_cpu_ms=%.1f dct_cpu_ms=%.1f speedup_cpu=%.2f "
        "full_wall_ms=%.1f dct_wall_ms=%.1f full_bytes=%lld dct_bytes=%lld "
        "size_ratio=%.3f full_psnr=%.3f dct_psnr=%.3f\n",
        file.substr(file.find_last_of('/') + 1).c_str(), eligible ? "dct" : "full",
        figures.full.cpu_s * 1e3, figures.dct.cpu_s * 1e3, figures.full.cpu_s / figures.dct.cpu_s,
        figures.full.wall_s * 1e3, figures.dct.wall_s * 1e3, figures.full_bytes, figures.dct_bytes,
        static_cast<double>(figures.dct_bytes) / static_cast<double>(figures.full_bytes),
        figures.full_psnr, figures.dct_psnr);
    all.add(figures);
    if (eligible) dct_path.add(figures);
  }
  std::printf(
      "dct_requant rounding=%.3f (keep only if size_ratio <= 1.03 and mean_dct_psnr >= "
      "mean_full_psnr)\n",
      rounding);
  all.print("all");
  dct_path.print("dct_path");
  vips_shutdown();
  return 0;
}
