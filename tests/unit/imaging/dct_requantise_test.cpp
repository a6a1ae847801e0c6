// The DCT-domain path of compress(): which inputs take it, that what it writes is what
// the full path would have written as near as the issue asks (same size within 3 %,
// PSNR within 0.5 dB, standard tables, no metadata, baseline), and that everything else,
// damaged files included, keeps exactly the full path's outcome.
#include "imaging/dct_requantise.hpp"

// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "imaging_test_support.hpp"

namespace imgbatch::imaging::testing {
namespace {

using Table = std::array<int, 64>;

// ITU-T T.81 Annex K, natural (row-major) order: libjpeg's tables at quality 50.
constexpr Table kLuminance50{16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                             14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                             18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
constexpr Table kChrominance50{17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
                               24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
                               99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
                               99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99};

// The q50 table scaled to `quality` as IJG's jpeg_quality_scaling does, baseline-clamped.
Table scaled(const Table& base, int quality) {
  const int scale = quality < 50 ? 5000 / quality : 200 - quality * 2;
  Table out{};
  for (std::size_t k = 0; k < 64; ++k) out[k] = std::clamp((base[k] * scale + 50) / 100, 1, 255);
  return out;
}

// What libjpeg reads from a JPEG's header: the table each component uses, its sampling.
struct JpegLayout {
  std::vector<Table> tables;  // per component
  std::vector<std::pair<int, int>> sampling;
  bool progressive = false;
};

JpegLayout read_layout(const std::string& jpeg) {
  jpeg_decompress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);  // the outputs are valid JPEGs: exiting is a failure too
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size());
  jpeg_read_header(&info, TRUE);
  JpegLayout layout;
  layout.progressive = info.progressive_mode != 0;
  for (int c = 0; c < info.num_components; ++c) {
    const jpeg_component_info& component = info.comp_info[c];
    Table table{};
    const JQUANT_TBL* q = info.quant_tbl_ptrs[component.quant_tbl_no];
    for (std::size_t k = 0; k < 64; ++k) table[k] = q->quantval[k];
    layout.tables.push_back(table);
    layout.sampling.emplace_back(component.h_samp_factor, component.v_samp_factor);
  }
  jpeg_destroy_decompress(&info);
  return layout;
}

// The markers before the first scan, e.g. "D8 E0 DB DB C0 C4 C4 C4 C4 DA".
std::string markers(const std::string& jpeg) {
  std::string out;
  std::size_t at = 0;
  while (at + 4 <= jpeg.size() && static_cast<unsigned char>(jpeg[at]) == 0xFF) {
    const auto marker = static_cast<unsigned char>(jpeg[at + 1]);
    char name[4];
    std::snprintf(name, sizeof name, "%02X", marker);
    out += (out.empty() ? "" : " ") + std::string(name);
    if (marker == 0xD8) {
      at += 2;
      continue;
    }
    if (marker == 0xDA) break;
    at += 2 + (static_cast<unsigned char>(jpeg[at + 2]) << 8 |
               static_cast<unsigned char>(jpeg[at + 3]));
  }
  return out;
}

double psnr(const vips::VImage& a, const vips::VImage& b) {
  const auto d = a.cast(VIPS_FORMAT_FLOAT) - b.cast(VIPS_FORMAT_FLOAT);
  return 10.0 * std::log10(255.0 * 255.0 / (d * d).avg());
}

std::string jpeg_of(const vips::VImage& image, vips::VOption* options) {
  VipsBlob* blob = image.jpegsave_buffer(options);
  std::string bytes(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

class DctPath : public ImagingTest {
 protected:
  // compress() takes the full path: dct_eligible() says so, and the outcome is the
  // full path's, error text or bytes.
  static void expect_full_path(const std::string& input, const EncodeOptions& options) {
    EXPECT_FALSE(dct_eligible(input, options));
    expect_full_path_outcome(input, options);
  }

  static void expect_full_path_outcome(const std::string& input, const EncodeOptions& options) {
    auto full = compress_full(input, options);
    auto result = compress(input, options);
    ASSERT_EQ(result.ok(), full.ok()) << (result.ok() ? full.message() : result.message());
    if (!full) {
      EXPECT_EQ(result.error().kind, full.error().kind);
      EXPECT_EQ(result.message(), full.message());
      return;
    }
    EXPECT_EQ(result->bytes, full->bytes);
    EXPECT_EQ(result->width, full->width);
    EXPECT_EQ(result->height, full->height);
  }
};

// A q75 photo (its tables are half of q50's, the case the rounding is tuned for), a
// progressive one, the largest, and the one the other tests use.
TEST_F(DctPath, EligiblePhotosComeOutLikeTheFullPathsOutput) {
  for (const char* name : {"photos/FreshFlower.jpg", "photos/GreenMeadow.jpg",
                           "photos/2569067123_aca715a2ee_o.jpg", "photos/flowers.jpeg"}) {
    SCOPED_TRACE(name);
    const auto input = read_testdata(name);
    ASSERT_TRUE(dct_eligible(input, {}));
    auto result = compress(input, {});
    auto full = compress_full(input, {});
    ASSERT_TRUE(result.ok() && full.ok());
    // Byte for byte the requantiser's output: this is the path that ran.
    const auto requantised = impl::requantise_jpeg(input, 50);
    ASSERT_TRUE(requantised.has_value());
    EXPECT_EQ(result->bytes, *requantised);
    EXPECT_NE(result->bytes, full->bytes);

    const auto original = vips::VImage::new_from_buffer(input, "");
    const auto image = decode(result->bytes);
    EXPECT_EQ(image.width(), original.width());
    EXPECT_EQ(image.height(), original.height());
    EXPECT_EQ(result->width, original.width());
    EXPECT_EQ(result->height, original.height());
    EXPECT_EQ(result->extension, "jpg");
    EXPECT_EQ(result->content_type, "image/jpeg");
    EXPECT_EQ(metadata_fields(image), "");

    const JpegLayout layout = read_layout(result->bytes);
    ASSERT_EQ(layout.tables.size(), 3u);
    EXPECT_EQ(layout.tables[0], kLuminance50);
    EXPECT_EQ(layout.tables[1], kChrominance50);
    EXPECT_EQ(layout.tables[2], kChrominance50);
    EXPECT_EQ(layout.sampling, read_layout(full->bytes).sampling);  // 4:2:0 both
    EXPECT_FALSE(layout.progressive);
    // SOI, JFIF, tables, baseline frame (C0), Huffman tables, scan: no EXIF (E1), ICC
    // (E2), Adobe (EE) or comment (FE) segment.
    EXPECT_EQ(markers(result->bytes), "D8 E0 DB DB C0 C4 C4 C4 C4 DA");

    EXPECT_LE(result->bytes.size(), full->bytes.size() * 103 / 100);
    const auto full_image = decode(full->bytes);
    EXPECT_GT(psnr(image, original), psnr(full_image, original) - 0.5);
  }
}

// The rounding of halves (kDctRounding) decides these two: a q75 input lands every odd AC
// coefficient on a half (rounded away, GreenMeadow grew 13 %), a flat q20 input every odd
// DC (rounded toward zero, flowers lost 1.9 dB).
TEST_F(DctPath, InputsFromOtherQualitiesStayCloseToTheFullPath) {
  struct Case {
    const char* photo;
    int input_quality;
  };
  for (const Case& c : {Case{"photos/flowers.jpeg", 20}, Case{"photos/GreenMeadow.jpg", 75}}) {
    SCOPED_TRACE(std::string(c.photo) + " at q" + std::to_string(c.input_quality));
    const auto input =
        jpeg_of(decode(read_testdata(c.photo)),
                vips::VImage::option()->set("Q", c.input_quality)->set("strip", true));
    ASSERT_TRUE(dct_eligible(input, {}));
    auto result = compress(input, {});
    auto full = compress_full(input, {});
    ASSERT_TRUE(result.ok() && full.ok());
    EXPECT_LE(result->bytes.size(), full->bytes.size() * 103 / 100);
    const auto original = decode(input);
    EXPECT_GT(psnr(decode(result->bytes), original), psnr(decode(full->bytes), original) - 0.5);
  }
}

// Finer tables than the input's: the output is larger than the input on both paths (the
// DCT path keeps it; it is no worse than what the full path gives).
TEST_F(DctPath, ACoarseInputAtAHighQualityGrowsLikeOnTheFullPath) {
  const auto input = jpeg_of(decode(read_testdata("photos/GreenMeadow.jpg")),
                             vips::VImage::option()->set("Q", 20)->set("strip", true));
  auto result = compress(input, {.quality = 89});
  auto full = compress_full(input, {.quality = 89});
  ASSERT_TRUE(result.ok() && full.ok());
  EXPECT_EQ(result->bytes, *impl::requantise_jpeg(input, 89));
  // Larger than the input, so past the requantiser's first output buffer (half the input
  // and 16 KiB): the buffer grew on the way.
  EXPECT_GT(result->bytes.size(), input.size());
  EXPECT_LE(result->bytes.size(), full->bytes.size() * 103 / 100);
  EXPECT_EQ(decode(result->bytes).width(), 1280);
}

TEST_F(DctPath, OtherQualitiesGetTheirOwnStandardTables) {
  const auto input = read_testdata("photos/flowers.jpeg");
  for (int quality : {20, 75, 89}) {
    SCOPED_TRACE(quality);
    ASSERT_TRUE(dct_eligible(input, {.quality = quality}));
    auto result = compress(input, {.quality = quality});
    ASSERT_TRUE(result.ok()) << result.message();
    EXPECT_EQ(result->bytes, *impl::requantise_jpeg(input, quality));
    const JpegLayout layout = read_layout(result->bytes);
    EXPECT_EQ(layout.tables[0], scaled(kLuminance50, quality));
    EXPECT_EQ(layout.tables[2], scaled(kChrominance50, quality));
    auto full = compress_full(input, {.quality = quality});
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(layout.tables, read_layout(full->bytes).tables);
  }
  // From 90 on libvips writes 4:4:4, which requantising a 4:2:0 input cannot give.
  expect_full_path(input, {.quality = 90});
}

TEST_F(DctPath, FourTwoTwoPhotosTakeTheFullPath) {
  for (const char* name : {"photos/Blinds.jpg", "photos/Storm.jpg"}) {
    SCOPED_TRACE(name);
    const auto input = read_testdata(name);
    ASSERT_EQ(read_layout(input).sampling[0], std::make_pair(2, 1));
    expect_full_path(input, {});
  }
}

TEST_F(DctPath, AnExifRotatedJpegTakesTheFullPathAndComesOutTurned) {
  const auto original = decode(read_testdata("photos/flowers.jpeg"));
  ASSERT_EQ(original.get_int("orientation"), 1);  // tagged upright: that one is eligible
  auto tagged = original.copy();
  tagged.set("orientation", 6);
  const auto input = jpeg_of(tagged, vips::VImage::option()->set("Q", 85));
  ASSERT_EQ(read_layout(input).sampling[0], std::make_pair(2, 2));

  expect_full_path(input, {});
  auto result = compress(input, {});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->width, 1080);
  EXPECT_EQ(result->height, 1920);
  EXPECT_EQ(decode(result->bytes).width(), 1080);
}

TEST_F(DctPath, InputsThatNeedConvertingTakeTheFullPath) {
  for (const char* name :
       {"edge/Channel_digital_image_CMYK_color.jpg", "edge/gamma_dalai_lama_gray.jpg",
        "edge/Landscape_1.jpg", "edge/Landscape_2.jpg", "edge/with-alpha.png",
        "edge/16-bit-grey-alpha.png", "edge/grey-8bit-alpha.png", "edge/8bit_depth.tiff"}) {
    SCOPED_TRACE(name);
    expect_full_path(read_testdata(name), {});
  }

  const auto flowers = decode(read_testdata("photos/flowers.jpeg"));
  const auto generic_rgb = decode(read_testdata("edge/Landscape_2.jpg"));
  std::size_t profile_size = 0;
  const void* profile = generic_rgb.get_blob("icc-profile-data", &profile_size);
  auto with_profile = flowers.copy();
  with_profile.set("icc-profile-data", nullptr, const_cast<void*>(profile), profile_size);

  struct Made {
    const char* what;
    std::string jpeg;
  };
  for (const Made& made : {
           Made{"4:4:4", jpeg_of(flowers, vips::VImage::option()->set("Q", 85)->set(
                                              "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF))},
           Made{"greyscale", jpeg_of(flowers.colourspace(VIPS_INTERPRETATION_B_W),
                                     vips::VImage::option()->set("Q", 85))},
           Made{"Apple Generic RGB profile",
                jpeg_of(with_profile, vips::VImage::option()->set("Q", 85))},
       }) {
    SCOPED_TRACE(made.what);
    expect_full_path(made.jpeg, {});
  }
}

TEST_F(DctPath, AnSrgbProfileIsNoReasonToDecode) {
  const auto srgb = decode(read_testdata("photos/flowers.jpeg")).icc_transform("srgb");
  const auto input = jpeg_of(srgb, vips::VImage::option()->set("Q", 85));
  ASSERT_NE(decode(input).get_typeof("icc-profile-data"), 0u);
  ASSERT_TRUE(dct_eligible(input, {}));
  auto result = compress(input, {});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->bytes, *impl::requantise_jpeg(input, 50));
  EXPECT_EQ(metadata_fields(decode(result->bytes)), "");
}

TEST_F(DctPath, OtherOutputFormatsTakeTheFullPath) {
  const auto input = read_testdata("photos/flowers.jpeg");
  EXPECT_TRUE(dct_eligible(input, {.format = core::ImageFormat::keep}));
  for (auto format : {core::ImageFormat::webp, core::ImageFormat::png}) {
    SCOPED_TRACE(std::string(core::to_string(format)));
    expect_full_path(input, {.format = format});
  }
}

TEST_F(DctPath, DamagedJpegsKeepTheFullPathsOutcome) {
  // truncated.jpg has a good 4:2:0 header: libjpeg only finds out in the scan.
  const auto truncated = read_testdata("edge/truncated.jpg");
  EXPECT_TRUE(impl::jpeg_layout_eligible(truncated));
  EXPECT_FALSE(impl::requantise_jpeg(truncated, 50).has_value());
  for (const char* name : {"edge/truncated.jpg", "edge/corrupt-header.jpg"}) {
    SCOPED_TRACE(name);
    const auto input = read_testdata(name);
    expect_full_path_outcome(input, {});
    const auto result = compress(input, {});
    EXPECT_EQ(result.error().kind, core::Failure::Kind::decode_error);
    EXPECT_TRUE(result.message().starts_with("corrupt or truncated image: "));
  }

  // An end-of-image marker in the middle of the scan: libjpeg warns (corrupt data) and
  // libvips decodes the rest as grey. Whatever the full path makes of it, compress()
  // makes the same.
  auto broken = read_testdata("photos/flowers.jpeg");
  broken[broken.size() / 2] = '\xFF';
  broken[broken.size() / 2 + 1] = '\xD9';
  EXPECT_FALSE(impl::requantise_jpeg(broken, 50).has_value());
  expect_full_path_outcome(broken, {});
}

// A 16x16 4:2:0 JPEG whose tables are all `step` and whose first luma block has `ac` at
// the first AC position: what no photo encoder writes, but a file can say.
std::string jpeg_with_one_coefficient(int step, JCOEF ac) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = 16;
  info.image_height = 16;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);  // YCbCr, luma 2x2
  std::array<unsigned, 64> table{};
  table.fill(static_cast<unsigned>(step));
  jpeg_add_quant_table(&info, 0, table.data(), 100, TRUE);
  jpeg_add_quant_table(&info, 1, table.data(), 100, TRUE);
  std::array<jvirt_barray_ptr, 3> arrays{};
  for (int c = 0; c < 3; ++c) {
    const JDIMENSION blocks = c == 0 ? 2 : 1;
    arrays[c] = info.mem->request_virt_barray(reinterpret_cast<j_common_ptr>(&info), JPOOL_IMAGE,
                                              TRUE, blocks, blocks, blocks);
  }
  jpeg_write_coefficients(&info, arrays.data());  // realises the (zeroed) arrays
  JBLOCKARRAY luma =
      info.mem->access_virt_barray(reinterpret_cast<j_common_ptr>(&info), arrays[0], 0, 1, TRUE);
  luma[0][0][1] = ac;
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string jpeg(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return jpeg;
}

TEST_F(DctPath, CoefficientsABaselineJpegCannotHoldTakeTheFullPath) {
  const auto plain = jpeg_with_one_coefficient(255, 1);
  EXPECT_TRUE(impl::requantise_jpeg(plain, 50).has_value());  // the file itself is fine
  // 1000 * 255 / 11 (q50's step there) is far beyond the 1023 a baseline AC can be.
  const auto input = jpeg_with_one_coefficient(255, 1000);
  EXPECT_TRUE(dct_eligible(input, {}));
  EXPECT_FALSE(impl::requantise_jpeg(input, 50).has_value());
  expect_full_path_outcome(input, {});
}

TEST_F(DctPath, ThePixelLimitStillRefusesFirst) {
  const auto input = read_testdata("photos/flowers.jpeg");  // 1920x1080
  const EncodeOptions options{.max_pixels = 2'000'000};
  EXPECT_FALSE(dct_eligible(input, options));
  auto result = compress(input, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, core::Failure::Kind::too_many_pixels);
  EXPECT_EQ(result.message(), "too many pixels: 1920x1080 is 2073600 pixels, the limit is 2000000");
}

TEST_F(DctPath, ImagesAboveTheCoefficientBudgetTakeTheFullPath) {
  // Headers only: black() is lazy and nothing here asks for its pixels.
  const auto within = vips::VImage::black(4000, 4000, vips::VImage::option()->set("bands", 3));
  const auto above = vips::VImage::black(4000, 4001, vips::VImage::option()->set("bands", 3));
  ASSERT_LE(4000LL * 4000, impl::kDctMaxPixels);
  ASSERT_GT(4000LL * 4001, impl::kDctMaxPixels);
  EXPECT_TRUE(impl::dct_header_eligible(within.get_image(), 50));
  EXPECT_FALSE(impl::dct_header_eligible(above.get_image(), 50));
}

TEST_F(DctPath, NonJpegBytesAreNotRequantised) {
  EXPECT_FALSE(impl::requantise_jpeg(read_testdata("edge/with-alpha.png"), 50).has_value());
  EXPECT_FALSE(impl::requantise_jpeg("", 50).has_value());
  EXPECT_FALSE(impl::jpeg_layout_eligible("\xFF\xD8\xFF"));
}

}  // namespace
}  // namespace imgbatch::imaging::testing
