#include "raw_planes.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstring>

extern "C" {
#include <libswscale/swscale.h>
}

#include "libjpeg_support.hpp"

namespace imgbatch::imaging::impl {
namespace {

// The most rows of one component a raw-data call passes: an iMCU row of a component with
// vertical sampling factor 2.
constexpr int kMaxRowsPerCall = 2 * DCTSIZE;

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// libswscale's SIMD reads and writes whole vectors: rows start 64-byte aligned, and the
// buffer has that much to spare past its last row.
constexpr int kAlignment = 64;

Plane allocate_plane(int width, int height, int stride_wanted, int rows) {
  Plane p;
  p.width = width;
  p.height = height;
  p.stride = ceil_div(stride_wanted, kAlignment) * kAlignment;
  p.rows = rows;
  const std::size_t bytes = static_cast<std::size_t>(p.stride) * rows + kAlignment;
  p.data.reset(static_cast<std::uint8_t*>(std::aligned_alloc(kAlignment, bytes)));
  return p;
}

// Planes for a `width` x `height` picture, padded to whole MCUs (8 luma_h x 8 luma_v
// pixels): what libjpeg's raw-data calls read or write, component by component.
// Uninitialised. Empty `data` when memory runs out.
Planes allocate(int width, int height, int luma_h, int luma_v) {
  Planes out;
  out.width = width;
  out.height = height;
  out.luma_h = luma_h;
  out.luma_v = luma_v;
  const int mcus_across = ceil_div(width, DCTSIZE * luma_h);
  const int mcus_down = ceil_div(height, DCTSIZE * luma_v);
  out.planes[0] =
      allocate_plane(width, height, mcus_across * DCTSIZE * luma_h, mcus_down * DCTSIZE * luma_v);
  for (int c = 1; c < 3; ++c)
    out.planes[c] = allocate_plane(ceil_div(width, luma_h), ceil_div(height, luma_v),
                                   mcus_across * DCTSIZE, mcus_down * DCTSIZE);
  return out;
}

bool allocated(const Planes& planes) {
  return std::all_of(planes.planes.begin(), planes.planes.end(),
                     [](const Plane& p) { return p.data != nullptr; });
}

// Repeats the last sample of each row and the last row into the padding, as libjpeg does
// for the pixels it downsamples itself: the edge blocks then cost no bits for a made-up
// edge, and the visible samples of those blocks are not disturbed by it.
void pad_edges(Plane& p) {
  for (int y = 0; y < p.height; ++y) {
    std::uint8_t* row = p.row(y);
    std::memset(row + p.width, row[p.width - 1], static_cast<std::size_t>(p.stride - p.width));
  }
  for (int y = p.height; y < p.rows; ++y) std::memcpy(p.row(y), p.row(p.height - 1), p.stride);
}

// -- Decoding ----------------------------------------------------------------------------

// Everything libjpeg touches, on the heap and trivially destructible (libjpeg_support.hpp).
struct DecodeSession {
  JpegErrors errors;
  jpeg_decompress_struct source;
};

struct CloseDecode {
  void operator()(DecodeSession* s) const {
    jpeg_destroy_decompress(&s->source);  // does nothing if never created
    delete s;
  }
};

// Luma 1x1, 1x2, 2x1 or 2x2 (4:4:4, 4:4:0, 4:2:2, 4:2:0).
bool layout_eligible(const jpeg_decompress_struct& source) {
  if (!ycbcr_with_whole_chroma_blocks(source)) return false;
  const jpeg_component_info& luma = source.comp_info[0];
  return (luma.h_samp_factor == 1 || luma.h_samp_factor == 2) &&
         (luma.v_samp_factor == 1 || luma.v_samp_factor == 2);
}

// Reads the header and starts the decompression. False for a layout not taken.
bool start(DecodeSession* s, std::string_view input) {
  jpeg_decompress_struct& source = s->source;
  jpeg_create_decompress(&source);
  jpeg_mem_src(&source, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  // No jpeg_save_markers: the metadata is not written again.
  if (jpeg_read_header(&source, TRUE) != JPEG_HEADER_OK || !layout_eligible(source)) return false;
  source.raw_data_out = TRUE;
  source.dct_method = JDCT_ISLOW;  // libvips' (libjpeg's default): the same pixels
  jpeg_start_decompress(&source);
  return true;
}

bool run_start(DecodeSession* s, std::string_view input) {
  if (setjmp(s->errors.jump) != 0) return false;
  return start(s, input);
}

// Every iMCU row into `planes` (allocated for the source's size and sampling), then the
// rest of the data, so that damage anywhere is seen.
bool read_rows(DecodeSession* s, const Planes* planes) {
  jpeg_decompress_struct& source = s->source;
  JSAMPROW rows[3][kMaxRowsPerCall];
  JSAMPARRAY components[3] = {rows[0], rows[1], rows[2]};
  const int lines_per_call = source.max_v_samp_factor * DCTSIZE;
  for (int imcu = 0; source.output_scanline < source.output_height; ++imcu) {
    for (int c = 0; c < 3; ++c) {
      const int per_call = source.comp_info[c].v_samp_factor * DCTSIZE;
      for (int r = 0; r < per_call; ++r) rows[c][r] = planes->planes[c].row(imcu * per_call + r);
    }
    if (jpeg_read_raw_data(&source, components, lines_per_call) == 0) return false;
  }
  jpeg_finish_decompress(&source);
  return true;
}

bool run_read_rows(DecodeSession* s, const Planes* planes) {
  if (setjmp(s->errors.jump) != 0) return false;
  return read_rows(s, planes);
}

std::unique_ptr<DecodeSession, CloseDecode> new_decode_session() {
  std::unique_ptr<DecodeSession, CloseDecode> s(new DecodeSession{});  // C structs zeroed
  s->source.err = use_jumping_errors(s->errors);
  return s;
}

// -- Encoding ----------------------------------------------------------------------------

struct EncodeSession {
  JpegErrors errors;
  jpeg_compress_struct target;
  JpegDestination output;
};

struct CloseEncode {
  void operator()(EncodeSession* s) const {
    jpeg_destroy_compress(&s->target);
    std::free(s->output.data);
    delete s;
  }
};

bool write(EncodeSession* s, const Planes* planes, int quality) {
  jpeg_compress_struct& target = s->target;
  jpeg_create_compress(&target);
  // Compressed photos at the qualities that come here take 0.5-1.5 bits a pixel.
  use_growing_destination(target, s->output,
                          static_cast<std::size_t>(planes->width) * planes->height / 8 + 16384);
  target.image_width = static_cast<JDIMENSION>(planes->width);
  target.image_height = static_cast<JDIMENSION>(planes->height);
  target.input_components = 3;
  target.in_color_space = JCS_YCbCr;
  // YCbCr, luma 2x2 and chroma 1x1 (4:2:0), baseline, accurate integer DCT: libjpeg's
  // defaults and libvips' settings below quality 90.
  jpeg_set_defaults(&target);
  target.comp_info[0].h_samp_factor = target.comp_info[0].v_samp_factor = 2;
  for (int c = 1; c < 3; ++c)
    target.comp_info[c].h_samp_factor = target.comp_info[c].v_samp_factor = 1;
  jpeg_set_quality(&target, quality, TRUE);
  target.optimize_coding = TRUE;
  target.raw_data_in = TRUE;
  // libvips' `strip` leaves the JFIF header out too (its density is metadata).
  target.write_JFIF_header = FALSE;
  jpeg_start_compress(&target, TRUE);

  JSAMPROW rows[3][kMaxRowsPerCall];
  JSAMPARRAY components[3] = {rows[0], rows[1], rows[2]};
  for (int imcu = 0; target.next_scanline < target.image_height; ++imcu) {
    for (int c = 0; c < 3; ++c) {
      const int per_call = c == 0 ? 2 * DCTSIZE : DCTSIZE;
      for (int r = 0; r < per_call; ++r) rows[c][r] = planes->planes[c].row(imcu * per_call + r);
    }
    if (jpeg_write_raw_data(&target, components, 2 * DCTSIZE) == 0) return false;
  }
  jpeg_finish_compress(&target);
  return true;
}

bool run_write(EncodeSession* s, const Planes* planes, int quality) {
  if (setjmp(s->errors.jump) != 0) return false;
  return write(s, planes, quality);
}

// -- Scaling -----------------------------------------------------------------------------

AVPixelFormat pixel_format(const Planes& planes) {
  if (planes.luma_h == 2) return planes.luma_v == 2 ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUV422P;
  return planes.luma_v == 2 ? AV_PIX_FMT_YUV440P : AV_PIX_FMT_YUV444P;
}

struct FreeScaler {
  void operator()(SwsContext* context) const { sws_freeContext(context); }
};

}  // namespace

std::optional<Planes> decode_planes(std::string_view input) {
  const auto s = new_decode_session();
  if (!run_start(s.get(), input)) return std::nullopt;
  const jpeg_decompress_struct& source = s->source;
  Planes planes =
      allocate(static_cast<int>(source.output_width), static_cast<int>(source.output_height),
               source.comp_info[0].h_samp_factor, source.comp_info[0].v_samp_factor);
  if (!allocated(planes)) return std::nullopt;
  if (!run_read_rows(s.get(), &planes)) return std::nullopt;
  return planes;
}

std::optional<Planes> scale_planes(const Planes& from, int width, int height) {
  Planes out = allocate(width, height, 2, 2);
  if (!allocated(out)) return std::nullopt;
  const std::unique_ptr<SwsContext, FreeScaler> scaler(
      sws_getContext(from.width, from.height, pixel_format(from), width, height, AV_PIX_FMT_YUV420P,
                     SWS_BILINEAR, nullptr, nullptr, nullptr));
  if (!scaler) return std::nullopt;
  // JPEG's YCbCr is full range on both sides (the deprecated YUVJ formats said so; these
  // say it here). With the same range and matrix on both sides nothing is converted.
  const int* matrix = sws_getCoefficients(SWS_CS_DEFAULT);
  if (sws_setColorspaceDetails(scaler.get(), matrix, 1, matrix, 1, 0, 1 << 16, 1 << 16) < 0)
    return std::nullopt;
  const std::uint8_t* const source[3] = {from.planes[0].data.get(), from.planes[1].data.get(),
                                         from.planes[2].data.get()};
  const int source_strides[3] = {from.planes[0].stride, from.planes[1].stride,
                                 from.planes[2].stride};
  std::uint8_t* const target[3] = {out.planes[0].data.get(), out.planes[1].data.get(),
                                   out.planes[2].data.get()};
  const int target_strides[3] = {out.planes[0].stride, out.planes[1].stride, out.planes[2].stride};
  if (sws_scale(scaler.get(), source, source_strides, 0, from.height, target, target_strides) !=
      height)
    return std::nullopt;
  for (Plane& plane : out.planes) pad_edges(plane);
  return out;
}

std::optional<std::string> encode_planes(const Planes& planes, int quality) {
  if (planes.luma_h != 2 || planes.luma_v != 2 || !allocated(planes)) return std::nullopt;
  const std::unique_ptr<EncodeSession, CloseEncode> s(new EncodeSession{});
  s->target.err = use_jumping_errors(s->errors);
  if (!run_write(s.get(), &planes, std::clamp(quality, 1, 100))) return std::nullopt;
  return written_bytes(s->output);
}

}  // namespace imgbatch::imaging::impl
