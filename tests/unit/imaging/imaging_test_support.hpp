// Helpers for the imaging tests: reading the shared test images in place and decoding
// compressor outputs with libvips to check what a viewer would see.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <vips/vips8>

#include "imaging/compressor.hpp"

namespace imgbatch::imaging::testing {

inline std::filesystem::path testdata(const std::string& relative) {
  return std::filesystem::path(IMGBATCH_TESTDATA_DIR) / relative;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read test file " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string read_testdata(const std::string& relative) {
  return read_file(testdata(relative));
}

inline std::vector<std::filesystem::path> photos() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(testdata("photos")))
    paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  return paths;
}

// Decodes fully into memory, so the result does not depend on `bytes` staying alive.
inline vips::VImage decode(const std::string& bytes) {
  return vips::VImage::new_from_buffer(bytes, "").copy_memory();
}

// Mean absolute difference of two images of the same size, 0..255.
inline double mean_difference(const vips::VImage& a, const vips::VImage& b) {
  return (a.cast(VIPS_FORMAT_FLOAT) - b.cast(VIPS_FORMAT_FLOAT)).abs().avg();
}

inline bool starts_with(const std::string& bytes, std::string_view prefix) {
  return bytes.compare(0, prefix.size(), prefix) == 0;
}

// The metadata fields a decoder found in an output, e.g. "exif-data xmp-data"; empty
// when everything was stripped.
inline std::string metadata_fields(const vips::VImage& image) {
  std::string found;
  for (const char* field :
       {"exif-data", "xmp-data", "iptc-data", "icc-profile-data", "photoshop-data", "orientation"})
    if (image.get_typeof(field) != 0) found += std::string(found.empty() ? "" : " ") + field;
  return found;
}

class ImagingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init_vips("imaging_test"); }

  // Compresses a file from the shared test data; the test fails if it does not succeed.
  static Encoded compress_ok(const std::string& relative, EncodeOptions options = {}) {
    const auto input = read_testdata(relative);
    auto result = compress(input, options);
    if (!result) ADD_FAILURE() << relative << ": " << result.message();
    return result ? std::move(result).value() : Encoded{};
  }

  static core::Failure compress_failure(const std::string& relative, EncodeOptions options = {}) {
    const auto input = read_testdata(relative);
    auto result = compress(input, options);
    if (result) {
      ADD_FAILURE() << relative << " was accepted, " << result->width << "x" << result->height;
      return {core::Failure::Kind::decode_error, ""};
    }
    return std::move(result).error();
  }

  static std::string compress_error(const std::string& relative, EncodeOptions options = {}) {
    return compress_failure(relative, options).message;
  }
};

}  // namespace imgbatch::imaging::testing
