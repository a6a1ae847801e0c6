// A fast path of compress() for the commonest input, a plain JPEG photo written out again
// as JPEG: instead of decoding to pixels and encoding anew, libjpeg reads the quantised
// DCT coefficients, moves them onto the standard tables of the requested quality and
// writes them out (baseline, optimised Huffman tables, no metadata). Nothing about the
// picture changes but its quantisation, so it only applies where the full path would
// change nothing else either: no EXIF rotation, no colour conversion (3-component YCbCr,
// no ICC profile or an sRGB one), and the same 4:2:0 chroma sampling the full path
// writes (it does below quality 90); and only up to kDctMaxPixels, since the coefficients
// are held in memory. compress() chooses it by itself; any libjpeg warning or error on the way
// sends the image down the full path, so damaged files keep exactly their old outcome. The
// measurements that justify it (speed, size and PSNR against the full path) are in
// BENCHMARKS.md, "DCT-domain requantisation", and bench/dct_requant.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <vips/vips.h>

#include "core/result.hpp"
#include "imaging/compressor.hpp"

namespace imgbatch::imaging {

// Whether compress(input, options) takes the DCT-domain path (it still falls back to
// the full path if libjpeg finds the data damaged after the header). Reads headers
// only; false for anything compress() would refuse.
bool dct_eligible(std::string_view input, const EncodeOptions& options);

// compress() without the DCT-domain path: the reference that path is measured against
// (tests, bench/dct_requant).
core::Result<Encoded, core::Failure> compress_full(std::string_view input,
                                                   const EncodeOptions& options);

namespace impl {

// How a coefficient c moves from step Qold to step Qnew: magnitude = floor(|c * Qold /
// Qnew| + r). |c * Qold / Qnew| is a multiple of 1/Qnew (Qnew <= 255), so the only
// values in question are exact halves:
// - r = 0.5 (nearest, halves away from zero, as libjpeg's own quantiser) for DC and
//   wherever the input's step is at least as coarse: the input value is exact there, and
//   the full path, re-quantising an exact decoded value (flat areas), rounds it so too;
// - r = kDctRounding = 0.499 (nearest, halves toward zero) for AC coefficients the
//   requantiser coarsens (Qold < Qnew): the true value lay somewhere in c*Qold +- Qold/2
//   and photo coefficients cluster at zero, so the smaller side is the likelier one.
// Halves are common: a libjpeg q75 input has steps half of q50's, so every odd AC
// coefficient lands on one. Rounded away, such photos came out 4-31 % larger than the full
// path's output; toward zero, 16-28 % smaller at 0.0-0.4 dB less PSNR. One r for every
// coefficient (the first experiment) cannot serve both kinds of input: below 0.5 it cost
// a flat q20 input 1.9 dB, and a wider dead zone (r <= 0.46) brought mean PSNR below the
// full path's. Measured with bench/dct_requant: on the 10 testdata photos this path
// takes, 0.983x the full path's bytes, mean PSNR +0.04 dB, worst file -0.10 dB; on 28
// re-encodes of 4 of them at q20-q95, 0.952x, +0.08 dB, worst -0.37 dB (a q75 input,
// 25 % smaller). Details: BENCHMARKS.md, "DCT-domain requantisation".
inline constexpr double kDctRounding = 0.499;

// The coefficients of the whole image are held in memory (about 3 bytes a pixel for
// 4:2:0), unlike the full path, which streams in strips. 16 MP (~48 MB) covers 12 MP
// phone photos while keeping a compress pool of a few threads well inside the service's
// RSS budget; larger images take the full path.
inline constexpr long long kDctMaxPixels = 16'000'000;

// The checks that need the libvips header of a JPEG input whose output is JPEG too
// (opened lazily: nothing decoded): no EXIF rotation, no non-sRGB ICC profile, at most
// kDctMaxPixels, and a quality below 90 (from 90 on libvips writes 4:4:4, which a
// 4:2:0 input cannot give without decoding). The layout checks (YCbCr, 4:2:0) are made
// by requantise_jpeg() from libjpeg's own header.
bool dct_header_eligible(VipsImage* header, int quality);

// The requantised JPEG at `quality` (1-100, standard tables scaled as libjpeg's
// jpeg_set_quality does). nullopt when the input is not 3-component YCbCr 4:2:0 8-bit,
// has a table step beyond 255 (16-bit tables), would need a coefficient a baseline JPEG
// cannot hold, or when libjpeg reports any warning or error (corrupt or truncated
// data): the caller then takes the full path. `coarsening_rounding` is the r of
// kDctRounding (kept within [0, 1)); other values are for bench/dct_requant. Thread-safe.
std::optional<std::string> requantise_jpeg(std::string_view input, int quality,
                                           double coarsening_rounding = kDctRounding);

// The same JPEG without its metadata (EXIF, XMP, ICC, comments, …) and nothing else
// changed: the DCT coefficients and quantisation tables are copied as they are (any
// layout), only the Huffman coding is optimised anew, as jpegtran -copy none -optimize
// does, so a decoder gives bit-identical pixels. nullopt on any libjpeg warning or error.
std::optional<std::string> strip_jpeg(std::string_view input);

// The libjpeg header checks of requantise_jpeg() alone (for dct_eligible()).
bool jpeg_layout_eligible(std::string_view input);

// The quantised luma coefficients of a JPEG requantise_jpeg() takes, as libjpeg reads them.
struct LumaCoefficients {
  int width = 0, height = 0;                      // the image's, in pixels
  int width_in_blocks = 0, height_in_blocks = 0;  // the luma plane's, padded to whole blocks
  std::array<std::uint16_t, 64> table{};          // the luma quantisation steps (natural order)
  std::vector<std::int16_t> blocks;               // 64 a block, row after row of blocks
};

// nullopt for what requantise_jpeg() refuses (layout, 16-bit tables) and on any libjpeg
// warning or error anywhere in the data. Thread-safe.
std::optional<LumaCoefficients> read_luma_coefficients(std::string_view input);

}  // namespace impl
}  // namespace imgbatch::imaging
