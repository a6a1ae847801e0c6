// The experiment of issue "Performance", part 4: for a JPEG that needs no rotation and no
// colour conversion, requantise in the DCT domain (read coefficients, move them onto the
// q50 tables, write them) instead of decoding and re-encoding. Kept in the product only if
// the output is within 3 % of a full re-encode's size and no worse in PSNR against the
// original; this program measures all three on the given files.
//
//   dct_requant [--rounds N] FILE...
// Prints one line per file and a `dct_requant total …` line: time per image of each path,
// their ratio, the bytes of each and their ratio, and the PSNR (dB, RGB, against the
// original decoded by libvips) of each.
// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <vips/vips.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "imaging/compressor.hpp"

namespace {

constexpr int kQuality = 50;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Rounds num / den to an integer: with `rounding` = 0.5 to the nearest (halves away from
// zero, as libjpeg's quantiser); smaller values widen the dead zone around zero, trading
// PSNR for bytes. Settable by DCT_ROUNDING to explore.
double rounding = 0.5;
JCOEF divide_rounding(long num, long den) {
  const double q = static_cast<double>(num < 0 ? -num : num) / static_cast<double>(den);
  const auto magnitude = static_cast<long>(q + rounding);
  return static_cast<JCOEF>(num < 0 ? -magnitude : magnitude);
}

// The DCT-domain path. The photos are valid JPEGs, so libjpeg's default error handler
// (which exits) is acceptable for a benchmark.
std::string requantise(const std::string& input) {
  jpeg_decompress_struct source{};
  jpeg_error_mgr source_errors{};
  source.err = jpeg_std_error(&source_errors);
  jpeg_create_decompress(&source);
  jpeg_mem_src(&source, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  jpeg_read_header(&source, TRUE);
  jvirt_barray_ptr* coefficients = jpeg_read_coefficients(&source);

  jpeg_compress_struct target{};
  jpeg_error_mgr target_errors{};
  target.err = jpeg_std_error(&target_errors);
  jpeg_create_compress(&target);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&target, &buffer, &size);
  jpeg_copy_critical_parameters(&source, &target);
  jpeg_set_quality(&target, kQuality, TRUE);  // replaces tables 0 and 1 with the q50 ones
  target.optimize_coding = TRUE;              // as imgbatch's own encode

  for (int c = 0; c < source.num_components; ++c) {
    const jpeg_component_info& component = source.comp_info[c];
    const JQUANT_TBL* old_table = component.quant_table;
    const JQUANT_TBL* new_table = target.quant_tbl_ptrs[target.comp_info[c].quant_tbl_no];
    for (JDIMENSION row = 0; row < component.height_in_blocks; ++row) {
      JBLOCKARRAY blocks = (*source.mem->access_virt_barray)(
          reinterpret_cast<j_common_ptr>(&source), coefficients[c], row, 1, TRUE);
      for (JDIMENSION column = 0; column < component.width_in_blocks; ++column) {
        JCOEF* block = blocks[0][column];
        for (int k = 0; k < DCTSIZE2; ++k)
          block[k] = divide_rounding(static_cast<long>(block[k]) * old_table->quantval[k],
                                     new_table->quantval[k]);
      }
    }
  }
  jpeg_write_coefficients(&target, coefficients);
  jpeg_finish_compress(&target);
  jpeg_destroy_compress(&target);
  jpeg_finish_decompress(&source);
  jpeg_destroy_decompress(&source);
  std::string output(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return output;
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

template <typename F>
double seconds_per_call(int rounds, F&& call) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) call();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  if (VIPS_INIT(argv[0])) return 1;
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  int rounds = 3;
  if (const char* value = std::getenv("DCT_ROUNDING")) rounding = std::atof(value);
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else files.push_back(arg);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: dct_requant [--rounds N] FILE...\n");
    return 2;
  }

  const imgbatch::imaging::EncodeOptions options{kQuality, imgbatch::core::ImageFormat::jpeg,
                                                 100'000'000};
  double full_s = 0, dct_s = 0, full_psnr = 0, dct_psnr = 0;
  long long full_bytes = 0, dct_bytes = 0;
  for (const std::string& file : files) {
    const std::string input = read_file(file);
    std::string full, dct;
    const double t_full = seconds_per_call(rounds, [&] {
      auto encoded = imgbatch::imaging::compress(input, options);
      if (!encoded) throw std::runtime_error(file + ": " + encoded.message());
      full = std::move(encoded->bytes);
    });
    const double t_dct = seconds_per_call(rounds, [&] { dct = requantise(input); });
    int width = 0, height = 0;
    const auto original = decode_rgb(input, width, height);
    const double p_full = psnr(original, decode_rgb(full, width, height));
    const double p_dct = psnr(original, decode_rgb(dct, width, height));
    std::printf("dct_requant file=%s full_ms=%.1f dct_ms=%.1f speedup=%.2f full_bytes=%zu "
                "dct_bytes=%zu size_ratio=%.3f full_psnr=%.2f dct_psnr=%.2f\n",
                file.substr(file.find_last_of('/') + 1).c_str(), t_full * 1e3, t_dct * 1e3,
                t_full / t_dct, full.size(), dct.size(),
                static_cast<double>(dct.size()) / static_cast<double>(full.size()), p_full, p_dct);
    full_s += t_full;
    dct_s += t_dct;
    full_bytes += static_cast<long long>(full.size());
    dct_bytes += static_cast<long long>(dct.size());
    full_psnr += p_full;
    dct_psnr += p_dct;
  }
  const double n = static_cast<double>(files.size());
  std::printf("dct_requant total files=%zu speedup=%.2f size_ratio=%.3f mean_full_psnr=%.2f "
              "mean_dct_psnr=%.2f (keep only if size_ratio <= 1.03 and dct_psnr >= full_psnr)\n",
              files.size(), full_s / dct_s,
              static_cast<double>(dct_bytes) / static_cast<double>(full_bytes), full_psnr / n,
              dct_psnr / n);
  vips_shutdown();
  return 0;
}
