// The raw-plane path of process(): a JPEG's full-size output and its sizes made from one
// libjpeg decode to YCbCr planes (no upsampling, no RGB), the sizes scaled on the planes by
// libswscale and every output written back from planes with jpeg_write_raw_data. libvips
// 8.14's horizontal resize is not vectorised (22-30 ms for one 2560 px photo, 0.93 x the
// full image alone); libswscale's planar bilinear scale costs 4-7 ms for all three sizes
// (BENCHMARKS.md, "Quality targets and sizes"). process() takes it for sizes at a fixed
// quality below 90 from an upright, sRGB, 8-bit YCbCr JPEG (the DCT-domain path's header
// checks, dct_requantise.hpp) in one of the samplings below; anything libjpeg warns about
// sends the image down the usual path, so damaged files keep their old outcome.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace imgbatch::imaging::impl {

struct AlignedFree {
  void operator()(std::uint8_t* p) const { std::free(p); }
};

// One component's samples: `width` x `height` of them are the picture's; the buffer holds
// `rows` rows of `stride` bytes, padded to whole MCUs (what libjpeg reads and writes
// through its raw-data calls), the stride a multiple of 64 (libswscale's SIMD rows).
struct Plane {
  int width = 0, height = 0;
  int stride = 0, rows = 0;
  std::unique_ptr<std::uint8_t[], AlignedFree> data;
  std::uint8_t* row(int y) const { return data.get() + static_cast<std::size_t>(y) * stride; }
};

// A picture as YCbCr planes, full range (JPEG's). Chroma is always one sample per MCU
// (sampling factors 1x1); luma has `luma_h` x `luma_v` (each 1 or 2): 2x2 is 4:2:0, 2x1
// 4:2:2, 1x2 4:4:0, 1x1 4:4:4. The outputs are 4:2:0, what libvips' jpegsave writes below
// quality 90.
struct Planes {
  int width = 0, height = 0;
  int luma_h = 2, luma_v = 2;
  std::array<Plane, 3> planes;  // Y, Cb, Cr
};

// The whole JPEG decoded to planes (libjpeg's raw_data_out, its accurate integer IDCT as
// libvips decodes). nullopt for a layout other than 8-bit, three-component YCbCr with
// chroma 1x1 and luma 1x1, 1x2, 2x1 or 2x2 (read from the header before anything is
// decoded), and on any libjpeg warning or error anywhere in the data (corrupt or
// truncated). No further check: the caller applies the DCT-domain path's
// (dct_header_eligible()). Thread-safe.
std::optional<Planes> decode_planes(std::string_view input);

// `from` scaled to `width` x `height` as 4:2:0 (libswscale, SWS_BILINEAR: it widens the
// filter by the reduction factor, so every source sample is averaged, as libvips' linear
// kernel does; chroma sited at the centre, as JPEG's). The same size converts the
// sampling only. nullopt when libswscale fails (out of memory). Thread-safe.
std::optional<Planes> scale_planes(const Planes& from, int width, int height);

// A baseline JPEG of 4:2:0 `planes` at `quality` (1-100): the standard tables scaled by
// jpeg_set_quality, optimised Huffman tables, no JFIF header or other metadata: what
// libvips' jpegsave writes with `strip` below quality 90. nullopt for planes that are not 4:2:0 and
// on a libjpeg error (out of memory). Thread-safe.
std::optional<std::string> encode_planes(const Planes& planes, int quality);

}  // namespace imgbatch::imaging::impl
