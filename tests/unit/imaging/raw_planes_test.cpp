// The raw-plane path of process() (raw_planes.hpp): the full image and its sizes from one
// libjpeg decode to YCbCr planes, scaled by libswscale. On real photos from shared/testdata
// and on JPEGs written here with libjpeg in the samplings the photos lack; every output is
// decoded by libvips and compared with what the usual path (libvips' decode and resize)
// gives.
#include "raw_planes.hpp"

// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <vips/vips8>

#include "dct_requantise.hpp"
#include "imaging/compressor.hpp"
#include "imaging/process.hpp"
#include "imaging/vips_support.hpp"
#include "imaging_test_support.hpp"
#include "process_tuning.hpp"

namespace imgbatch::imaging::testing {
namespace {

using vips::VImage;

// The bench's three sizes (bench/quality_auto), the case the path was made for.
const std::vector<SizeBox> kSizes = {{"thumb", 200, 200}, {"card", 600, 600}, {"zoom", 2000, 2000}};

// Luma sampling factors, and whether the file is progressive, as libjpeg reads the header.
struct Layout {
  int h = 0, v = 0;
  int chroma_h = 0, chroma_v = 0;
  bool progressive = false;
};

Layout layout_of(const std::string& jpeg) {
  jpeg_decompress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size());
  jpeg_read_header(&info, TRUE);
  const Layout layout{info.comp_info[0].h_samp_factor, info.comp_info[0].v_samp_factor,
                      info.comp_info[1].h_samp_factor, info.comp_info[1].v_samp_factor,
                      static_cast<bool>(info.progressive_mode)};
  jpeg_destroy_decompress(&info);
  return layout;
}

// `image` (8-bit sRGB) written by libjpeg at quality 90 with luma sampling h x v (chroma
// 1x1), baseline or progressive: the layouts no photo of the test data has.
std::string jpeg_with_layout(const VImage& image, int h, int v, bool progressive) {
  const VImage rgb = image.copy_memory();
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long length = 0;
  jpeg_mem_dest(&info, &buffer, &length);
  info.image_width = static_cast<JDIMENSION>(rgb.width());
  info.image_height = static_cast<JDIMENSION>(rgb.height());
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  info.comp_info[0].h_samp_factor = h;
  info.comp_info[0].v_samp_factor = v;
  jpeg_set_quality(&info, 90, TRUE);
  if (progressive) jpeg_simple_progression(&info);
  jpeg_start_compress(&info, TRUE);
  const auto* pixels = static_cast<const unsigned char*>(rgb.data());
  while (info.next_scanline < info.image_height) {
    auto* row = const_cast<JSAMPROW>(pixels + static_cast<std::size_t>(info.next_scanline) *
                                                  rgb.width() * 3);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string jpeg(reinterpret_cast<const char*>(buffer), length);
  std::free(buffer);
  return jpeg;
}

class RawPlanes : public ImagingTest {
 protected:
  static ProcessOptions sized(int quality = 50) {
    ProcessOptions options;
    options.quality.fixed = quality;
    options.never_larger = false;
    options.sizes = kSizes;
    return options;
  }

  // The same request down the usual path: a byte cap no output reaches changes nothing
  // there, but keeps the raw-plane path out (it takes no max_bytes).
  static ProcessOptions usual_path(ProcessOptions options) {
    options.max_bytes = 1'000'000'000;
    return options;
  }

  static std::vector<ProcessedImage> process_ok(const std::string& input,
                                                const ProcessOptions& options) {
    auto result = process(input, options);
    if (!result) ADD_FAILURE() << result.error().message;
    return result ? std::move(result).value() : std::vector<ProcessedImage>{};
  }

  // What the raw-plane path writes for output `k` of `outputs` (process()'s, at
  // `quality`), made as it makes it: the full image from the decoded planes (converted to
  // 4:2:0 if need be), a size scaled from every larger size in turn (the largest from the
  // decoded planes). Equal bytes prove that process() took the path.
  static std::string planes_output(const std::string& input,
                                   const std::vector<ProcessedImage>& outputs, std::size_t k,
                                   int quality) {
    std::optional<impl::Planes> planes = impl::decode_planes(input);
    EXPECT_TRUE(planes.has_value());
    if (!planes) return {};
    const int full_width = outputs[0].encoded.width, full_height = outputs[0].encoded.height;
    const int width = outputs[k].encoded.width, height = outputs[k].encoded.height;
    std::vector<std::pair<int, int>> chain;  // largest first, ending with output k
    for (const ProcessedImage& output : outputs) {
      const int w = output.encoded.width, h = output.encoded.height;
      const bool reduced = w != full_width || h != full_height;
      if (reduced && w * h > width * height) chain.emplace_back(w, h);
    }
    std::sort(chain.begin(), chain.end(),
              [](auto a, auto b) { return a.first * a.second > b.first * b.second; });
    chain.erase(std::unique(chain.begin(), chain.end()), chain.end());
    chain.emplace_back(width, height);
    for (const auto& [w, h] : chain) {
      if (w == planes->width && h == planes->height && planes->luma_h == 2 && planes->luma_v == 2)
        continue;
      planes = impl::scale_planes(*planes, w, h);
      EXPECT_TRUE(planes.has_value());
      if (!planes) return {};
    }
    return impl::encode_planes(*planes, quality).value_or("");
  }

  // What the raw-plane path writes for output `k`: a size as planes_output() makes it; the
  // full image requantised in the DCT domain as compress() writes it where that path
  // applies and the requantiser takes the coefficients, else from the planes.
  static std::string expected_output(const std::string& input,
                                     const std::vector<ProcessedImage>& outputs, std::size_t k,
                                     int quality) {
    // A size as large as the source is the full-size output itself.
    const bool full = k == 0 || (outputs[k].encoded.width == outputs[0].encoded.width &&
                                 outputs[k].encoded.height == outputs[0].encoded.height);
    EncodeOptions single;
    single.quality = quality;
    if (full && dct_eligible(input, single)) {
      if (auto requantised = impl::requantise_jpeg(input, quality)) return *requantised;
    }
    return planes_output(input, outputs, full ? 0 : k, quality);
  }

  // The source decoded by libvips and reduced by its resize (linear, as the usual path),
  // uncompressed: what a size should look like.
  static VImage reference(const std::string& input, int width, int height) {
    const VImage source = decode(input);
    return source
        .resize(static_cast<double>(width) / source.width(),
                VImage::option()
                    ->set("vscale", static_cast<double>(height) / source.height())
                    ->set("kernel", VIPS_KERNEL_LINEAR))
        .copy_memory();
  }
};

// How far a size may look from libvips' resize of the source (mean absolute difference of
// the decoded size against reference(), 0-255). Measured when this was written
// (2026-12-05), at quality 50 on the 14 photos: 1.0-7.0 (Dune's thumbnail; the JPEG's own
// loss is most of it), and never more than 0.13 above what the usual path's output of the
// same size gives (Garden's thumbnail: 4.58 against 4.45; the five layouts of
// EverySampling... below: at most 0.13 above too). kSlack is about twice that.
constexpr double kSlack = 0.25, kBound = 8;
TEST_F(RawPlanes, SizesHaveTheUsualDimensionsAndLookLikeTheUsualPathsOnEveryPhoto) {
  for (const auto& path : photos()) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const std::string input = read_file(path);
    const auto outputs = process_ok(input, sized());
    const auto usual = process_ok(input, usual_path(sized()));
    ASSERT_EQ(outputs.size(), 4u);
    ASSERT_EQ(usual.size(), 4u);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      SCOPED_TRACE(outputs[i].size);
      EXPECT_EQ(outputs[i].size, usual[i].size);
      EXPECT_EQ(outputs[i].encoded.width, usual[i].encoded.width);
      EXPECT_EQ(outputs[i].encoded.height, usual[i].encoded.height);
      EXPECT_EQ(outputs[i].report.quality, 50);
      EXPECT_FALSE(outputs[i].report.kept);
      const VImage image = decode(outputs[i].encoded.bytes);
      ASSERT_EQ(image.width(), outputs[i].encoded.width);
      ASSERT_EQ(image.height(), outputs[i].encoded.height);
      EXPECT_EQ(metadata_fields(image), "");
      const Layout layout = layout_of(outputs[i].encoded.bytes);
      EXPECT_EQ(layout.h * 10 + layout.v, 22) << "4:2:0 out, whatever the source";
      EXPECT_EQ(layout.chroma_h * 10 + layout.chroma_v, 11);
      EXPECT_FALSE(layout.progressive);
      // Written by the raw-plane path, not the usual one.
      EXPECT_EQ(outputs[i].encoded.bytes, expected_output(input, outputs, i, 50));
      if (i == 0) continue;
      const VImage expected = reference(input, image.width(), image.height());
      const double ours = mean_difference(image, expected);
      const double theirs = mean_difference(decode(usual[i].encoded.bytes), expected);
      std::printf("[ measure  ] %s %s raw %.3f usual %.3f\n", name.c_str(), outputs[i].size.c_str(),
                  ours, theirs);
      EXPECT_LT(ours, theirs + kSlack);
      EXPECT_LT(ours, kBound);
    }
  }
}

// The full image stays what compress() writes (a DCT-domain requantisation, whose rounding
// saves bytes on sources of a low quality) on the photos that path takes, with or without
// sizes. The alternative the bench measures (ProcessTuning::full_from_planes) encodes it
// from the decoded planes: measured when this was written (2026-12-05), bytes at quality
// 50 against compress_full() (decoded to RGB and encoded by libvips): +0.0 to +0.7 %,
// FreshFlower +5.6 %; against compress(): -0.1 to +3.5 %, FreshFlower +25.6 %, all ten
// together +2.3 %, for 0.34 x less CPU (BENCHMARKS.md).
TEST_F(RawPlanes, TheFullImageIsWhatCompressGivesAndFromPlanesAboutAsLarge) {
  std::size_t from_planes = 0, requantised = 0;
  impl::ProcessTuning planes_tuning;
  planes_tuning.full_from_planes = true;
  for (const auto& path : photos()) {
    const std::string input = read_file(path);
    const Layout source = layout_of(input);
    if (source.h != 2 || source.v != 2) continue;  // compress() writes those from RGB
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    EncodeOptions single;
    single.quality = 50;
    const auto compressed = compress(input, single);
    const auto decoded = compress_full(input, single);
    ASSERT_TRUE(compressed);
    ASSERT_TRUE(decoded);
    const auto outputs = process_ok(input, sized());
    ASSERT_EQ(outputs.size(), 4u);
    if (impl::requantise_jpeg(input, 50)) {  // else compress() decodes, the planes serve
      EXPECT_EQ(outputs[0].encoded.bytes, compressed->bytes);
    }

    const auto alternative = impl::process_tuned(input, sized(), planes_tuning);
    ASSERT_TRUE(alternative);
    ASSERT_EQ(alternative->size(), 4u);
    const std::string& full = (*alternative)[0].encoded.bytes;
    EXPECT_EQ(full, planes_output(input, *alternative, 0, 50));
    for (std::size_t i = 1; i < outputs.size(); ++i) {  // the sizes are the same either way
      if (outputs[i].encoded.width == outputs[0].encoded.width) {  // the full image itself
        EXPECT_EQ((*alternative)[i].encoded.bytes, full) << outputs[i].size;
        continue;
      }
      EXPECT_EQ((*alternative)[i].encoded.bytes, outputs[i].encoded.bytes) << outputs[i].size;
    }
    const double ratio = static_cast<double>(full.size()) / decoded->bytes.size();
    std::printf(
        "[ measure  ] %s full from planes %zu compress_full %zu (%.4f) compress %zu (%.4f)\n",
        name.c_str(), full.size(), decoded->bytes.size(), ratio, compressed->bytes.size(),
        static_cast<double>(full.size()) / compressed->bytes.size());
    EXPECT_NEAR(ratio, 1.0, 0.06);
    from_planes += full.size();
    requantised += compressed->bytes.size();
  }
  ASSERT_GT(requantised, 0u);
  EXPECT_LT(static_cast<double>(from_planes) / requantised, 1.03);
}

TEST_F(RawPlanes, EverySamplingAndProgressiveSourcesGive420Outputs) {
  // Odd sides, so that the last MCU row and column are partial in every layout.
  const VImage picture = decode(read_testdata("photos/Garden.jpg"))
                             .resize(1001.0 / 2560, VImage::option()->set("vscale", 627.0 / 1600))
                             .copy_memory();
  ASSERT_EQ(picture.width(), 1001);
  ASSERT_EQ(picture.height(), 627);
  struct Case {
    int h, v;
    bool progressive;
  };
  for (const Case c : {Case{2, 1, false}, Case{1, 2, false}, Case{1, 1, false}, Case{2, 2, true},
                       Case{2, 1, true}, Case{1, 2, true}}) {
    SCOPED_TRACE(std::to_string(c.h) + "x" + std::to_string(c.v) +
                 (c.progressive ? " progressive" : " baseline"));
    const std::string input = jpeg_with_layout(picture, c.h, c.v, c.progressive);
    const Layout written = layout_of(input);
    ASSERT_EQ(written.h * 10 + written.v, c.h * 10 + c.v);
    ASSERT_EQ(written.progressive, c.progressive);
    ProcessOptions options = sized();
    options.sizes = {{"thumb", 200, 200}, {"card", 600, 600}};
    const auto outputs = process_ok(input, options);
    const auto usual = process_ok(input, usual_path(options));
    ASSERT_EQ(outputs.size(), 3u);
    ASSERT_EQ(usual.size(), 3u);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(outputs[i].encoded.width, usual[i].encoded.width);
      EXPECT_EQ(outputs[i].encoded.height, usual[i].encoded.height);
      const Layout layout = layout_of(outputs[i].encoded.bytes);
      EXPECT_EQ(layout.h * 10 + layout.v, 22);
      EXPECT_FALSE(layout.progressive);
      EXPECT_EQ(outputs[i].encoded.bytes, expected_output(input, outputs, i, 50));
      const VImage image = decode(outputs[i].encoded.bytes);
      const VImage expected = reference(input, image.width(), image.height());
      const double ours = mean_difference(image, expected);
      const double theirs = mean_difference(decode(usual[i].encoded.bytes), expected);
      std::printf("[ measure  ] %dx%d%s %zu raw %.3f usual %.3f\n", c.h, c.v,
                  c.progressive ? "p" : "", i, ours, theirs);
      EXPECT_LT(ours, theirs + kSlack);
      EXPECT_LT(ours, kBound);
    }
  }
}

// One size far smaller than the source, with no larger size to start from: libswscale
// reduces 2560 px to 64 or 16 in one pass (its bilinear filter widened to 80 or 320 taps)
// and still looks like the usual path's. Not asserted below 16 px: there libswscale's tent
// filter is clamped to the picture and weighs its centre more, so the colour drifts from
// the picture's mean. Measured on Garden (mean absolute difference against reference()):
// within 0.8 of the usual path's from 8 down to 3 px, where both are 15-20 from the JPEG's
// own loss; 2.7 above it at 2 px and at 1 px.
TEST_F(RawPlanes, AFarSmallerSizeInOnePassLooksLikeTheUsualPaths) {
  const std::string input = read_testdata("photos/Garden.jpg");
  for (const int side : {64, 16}) {
    SCOPED_TRACE(side);
    ProcessOptions options = sized();
    options.sizes = {{"tiny", side, side}};
    const auto outputs = process_ok(input, options);
    const auto usual = process_ok(input, usual_path(options));
    ASSERT_EQ(outputs.size(), 2u);
    ASSERT_EQ(usual.size(), 2u);
    EXPECT_EQ(outputs[1].encoded.width, usual[1].encoded.width);
    EXPECT_EQ(outputs[1].encoded.height, usual[1].encoded.height);
    EXPECT_EQ(outputs[1].encoded.bytes, planes_output(input, outputs, 1, 50));
    const VImage image = decode(outputs[1].encoded.bytes);
    const VImage expected = reference(input, image.width(), image.height());
    const double ours = mean_difference(image, expected);
    const double theirs = mean_difference(decode(usual[1].encoded.bytes), expected);
    std::printf("[ measure  ] Garden %d raw %.3f usual %.3f\n", side, ours, theirs);
    EXPECT_LT(ours, theirs + kSlack);
  }
}

TEST_F(RawPlanes, DamagedJpegsGiveWhatTheUsualPathGives) {
  // Cut short (libvips refuses it), and a scan with a stray marker in the middle (libjpeg
  // warns; libvips decodes what it can).
  const std::string truncated = read_testdata("edge/truncated.jpg");
  std::string corrupt = read_testdata("photos/Garden.jpg");
  for (std::size_t at = corrupt.size() / 2; at < corrupt.size() / 2 + 64; at += 2)
    corrupt.replace(at, 2, "\xFF\xD3");
  const std::string* const inputs[] = {&truncated, &corrupt};
  for (const std::string* input : inputs) {
    SCOPED_TRACE(input == &truncated ? "truncated" : "corrupt");
    EXPECT_FALSE(impl::decode_planes(*input).has_value()) << "libjpeg reported nothing";
    const auto outputs = process(*input, sized());
    const auto usual = process(*input, usual_path(sized()));
    ASSERT_EQ(static_cast<bool>(outputs), static_cast<bool>(usual));
    if (!usual) {
      EXPECT_EQ(outputs.error().kind, usual.error().kind);
      EXPECT_EQ(outputs.error().message, usual.error().message);
      continue;
    }
    ASSERT_EQ(outputs->size(), usual->size());
    for (std::size_t i = 0; i < usual->size(); ++i)
      EXPECT_EQ((*outputs)[i].encoded.bytes, (*usual)[i].encoded.bytes) << i;
  }
  // The usual path succeeds on the corrupt photo but leaves libvips' warnings about it in
  // libvips' (global) error buffer; other tests expect it empty.
  impl::discard_vips_error();
}

TEST_F(RawPlanes, NeverLargerKeepsTheSourceForTheFullImage) {
  // A small, low-quality JPEG: written again at quality 85 it only grows.
  const VImage source = decode(read_testdata("edge/Landscape_1.jpg"));
  VipsBlob* blob = source.jpegsave_buffer(VImage::option()->set("Q", 20)->set("strip", false));
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  const std::string tiny(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  ProcessOptions options = sized(85);
  options.never_larger = true;
  options.sizes = {{"thumb", 100, 100}};
  const auto outputs = process_ok(tiny, options);
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_TRUE(outputs[0].report.kept);
  EXPECT_EQ(outputs[0].encoded.bytes, impl::strip_jpeg(tiny).value_or(""));
  EXPECT_FALSE(outputs[1].report.kept);
  EXPECT_EQ(outputs[1].encoded.bytes, planes_output(tiny, outputs, 1, 85));
}

}  // namespace
}  // namespace imgbatch::imaging::testing
