#include "dct_requantise.hpp"

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "dct_steps.hpp"
#include "icc.hpp"
#include "libjpeg_support.hpp"
#include "vips_support.hpp"

namespace imgbatch::imaging::impl {
namespace {

// From quality 90 on, libvips' jpegsave turns chroma subsampling off (4:4:4).
constexpr int kFirstUnsubsampledQuality = 90;

// Largest coefficient magnitudes a baseline Huffman table can code (10 bits for AC; DC
// is coded as a difference of up to 11 bits, which libjpeg checks itself). Only a
// nonsensical input table (huge Qold, tiny Qnew) gets past them; it takes the full path.
constexpr std::uint32_t kMaxAcMagnitude = 1023;
constexpr std::uint32_t kMaxDcMagnitude = 1024;

// Everything libjpeg touches, on the heap and trivially destructible, so that run() can
// longjmp out of libjpeg with nothing to unwind; Close frees it on every path.
struct Session {
  JpegErrors errors;
  jpeg_decompress_struct source;
  jpeg_compress_struct target;
  JpegDestination output;
};

struct Close {
  void operator()(Session* s) const {
    // The target reads the source's coefficient arrays: destroy it first. Destroying a
    // struct that was never created (mem == nullptr) does nothing.
    jpeg_destroy_compress(&s->target);
    jpeg_destroy_decompress(&s->source);
    std::free(s->output.data);
    delete s;
  }
};
using SessionPtr = std::unique_ptr<Session, Close>;

SessionPtr new_session() {
  SessionPtr s(new Session{});  // value-initialised: every C struct zeroed
  s->source.err = use_jumping_errors(s->errors);
  s->target.err = &s->errors.pub;
  return s;
}

// Exactly the layout the full path writes below quality 90: 8-bit YCbCr, luma 2x2, both
// chroma components 1x1. Anything else (greyscale, CMYK/YCCK, RGB or Adobe-transformed
// JPEGs, 4:4:4, 4:2:2, …) is decoded and re-encoded.
bool layout_eligible(const jpeg_decompress_struct& source) {
  return ycbcr_with_whole_chroma_blocks(source) && source.comp_info[0].h_samp_factor == 2 &&
         source.comp_info[0].v_samp_factor == 2;
}

// Moves one component's coefficients from table `from` onto table `to` in place (see
// kDctRounding for the rounding). False when a step is beyond 8 bits (16-bit tables: rare,
// left to the full path) or a result does not fit a baseline JPEG.
bool requantise_component(jpeg_decompress_struct& source, jvirt_barray_ptr array,
                          const jpeg_component_info& component, const JQUANT_TBL& from,
                          const JQUANT_TBL& to, double coarsening_rounding) {
  std::array<Step, DCTSIZE2> steps{};
  for (int k = 0; k < DCTSIZE2; ++k) {
    const unsigned old_step = from.quantval[k], new_step = to.quantval[k];
    if (old_step == 0 || new_step == 0 || old_step > kMaxStep || new_step > kMaxStep) return false;
    steps[k] = position_step(k, old_step, new_step, coarsening_rounding);
  }

  auto* common = reinterpret_cast<j_common_ptr>(&source);
  std::uint32_t largest_dc = 0, largest_ac = 0;
  for (JDIMENSION row = 0; row < component.height_in_blocks; ++row) {
    JBLOCKROW blocks = source.mem->access_virt_barray(common, array, row, 1, TRUE)[0];
    for (JDIMENSION column = 0; column < component.width_in_blocks; ++column) {
      JCOEF* block = blocks[column];
      // No test for zero: it maps to zero (bias < step), and a branch per coefficient
      // costs more than the arithmetic.
      block[0] = requantised(block[0], steps[0], largest_dc);
      for (int k = 1; k < DCTSIZE2; ++k) block[k] = requantised(block[k], steps[k], largest_ac);
    }
  }
  return largest_dc <= kMaxDcMagnitude && largest_ac <= kMaxAcMagnitude;
}

// The body of run(), in its own frame so that run() holds no locals a longjmp could
// leave stale. Trivially destructible objects only: a longjmp abandons this frame.
bool transcode(Session* s, std::string_view input, bool header_only, int quality,
               double coarsening_rounding) {
  jpeg_decompress_struct& source = s->source;
  jpeg_compress_struct& target = s->target;
  jpeg_create_decompress(&source);
  jpeg_mem_src(&source, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  // No jpeg_save_markers: EXIF, XMP, ICC, comments are all dropped, like the full path's
  // strip.
  if (jpeg_read_header(&source, TRUE) != JPEG_HEADER_OK) return false;
  // quality 0: a lossless copy, whatever the layout (strip_jpeg()).
  if (quality != 0 && !layout_eligible(source)) return false;
  if (header_only) return true;
  jvirt_barray_ptr* coefficients = jpeg_read_coefficients(&source);

  jpeg_create_compress(&target);
  use_growing_destination(target, s->output, input.size() / 2 + 16384);
  jpeg_copy_critical_parameters(&source, &target);
  if (quality == 0) {
    // The coefficients and tables as they are; only the entropy coding is written anew.
    target.optimize_coding = TRUE;
    jpeg_write_coefficients(&target, coefficients);
    jpeg_finish_compress(&target);
    return true;
  }
  // Replaces tables 0 and 1 with the standard ones scaled to `quality`, as libvips'
  // jpegsave does; force_baseline keeps every entry within 8 bits.
  jpeg_set_quality(&target, quality, TRUE);
  // The input may use other table slots (e.g. a third table for Cr); use libjpeg's own
  // assignment, so only the two standard tables are written.
  target.comp_info[0].quant_tbl_no = 0;
  target.comp_info[1].quant_tbl_no = 1;
  target.comp_info[2].quant_tbl_no = 1;
  target.optimize_coding = TRUE;  // as the full path's jpegsave; baseline, not progressive

  for (int c = 0; c < source.num_components; ++c) {
    const JQUANT_TBL* from = source.comp_info[c].quant_table;
    const JQUANT_TBL* to = target.quant_tbl_ptrs[target.comp_info[c].quant_tbl_no];
    if (from == nullptr || to == nullptr) return false;  // a component no scan carried
    if (!requantise_component(source, coefficients[c], source.comp_info[c], *from, *to,
                              coarsening_rounding))
      return false;
  }
  jpeg_write_coefficients(&target, coefficients);
  jpeg_finish_compress(&target);
  return true;
}

// Where libjpeg's errors and warnings land. Only `s` and the unchanged parameters are
// used after setjmp, so the longjmp leaves nothing indeterminate.
bool run(Session* s, std::string_view input, bool header_only, int quality,
         double coarsening_rounding) {
  if (setjmp(s->errors.jump) != 0) return false;
  return transcode(s, input, header_only, quality, coarsening_rounding);
}

// The body of read_luma_plane(), in its own frame for the same reason as transcode().
bool read_luma(Session* s, std::string_view input, LumaCoefficients* out) {
  jpeg_decompress_struct& source = s->source;
  jpeg_create_decompress(&source);
  jpeg_mem_src(&source, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  if (jpeg_read_header(&source, TRUE) != JPEG_HEADER_OK || !layout_eligible(source)) return false;
  jvirt_barray_ptr* coefficients = jpeg_read_coefficients(&source);
  const jpeg_component_info& luma = source.comp_info[0];
  const JQUANT_TBL* table = luma.quant_table;
  if (table == nullptr) return false;
  for (int k = 0; k < DCTSIZE2; ++k) {
    if (table->quantval[k] == 0 || table->quantval[k] > kMaxStep) return false;
    out->table[k] = table->quantval[k];
  }
  out->width = static_cast<int>(source.image_width);
  out->height = static_cast<int>(source.image_height);
  out->width_in_blocks = static_cast<int>(luma.width_in_blocks);
  out->height_in_blocks = static_cast<int>(luma.height_in_blocks);
  out->blocks.resize(static_cast<std::size_t>(out->width_in_blocks) * out->height_in_blocks *
                     DCTSIZE2);
  auto* common = reinterpret_cast<j_common_ptr>(&source);
  std::int16_t* next = out->blocks.data();
  for (JDIMENSION row = 0; row < luma.height_in_blocks; ++row) {
    JBLOCKROW blocks = source.mem->access_virt_barray(common, coefficients[0], row, 1, FALSE)[0];
    for (JDIMENSION column = 0; column < luma.width_in_blocks; ++column, next += DCTSIZE2)
      std::copy_n(blocks[column], DCTSIZE2, next);
  }
  // The rest of the data is read too, so that damage anywhere (also in chroma) sends the
  // image down the path requantise_jpeg() would send it.
  jpeg_finish_decompress(&source);
  return true;
}

bool run_read_luma(Session* s, std::string_view input, LumaCoefficients* out) {
  if (setjmp(s->errors.jump) != 0) return false;
  return read_luma(s, input, out);
}

// For standard_table(): a compress struct only asked for its tables.
bool make_tables(Session* s, int quality) {
  if (setjmp(s->errors.jump) != 0) return false;
  jpeg_create_compress(&s->target);
  jpeg_set_quality(&s->target, quality, TRUE);
  return true;
}

}  // namespace

std::array<std::uint16_t, 64> standard_table(int quality, int slot) {
  const SessionPtr s = new_session();
  std::array<std::uint16_t, 64> table{};
  // Only allocation can fail here; a table of ones is then the harmless answer.
  if (!make_tables(s.get(), std::clamp(quality, 1, 100)) ||
      s->target.quant_tbl_ptrs[slot] == nullptr) {
    table.fill(1);
    return table;
  }
  std::copy_n(s->target.quant_tbl_ptrs[slot]->quantval, DCTSIZE2, table.begin());
  return table;
}

std::optional<LumaCoefficients> read_luma_coefficients(std::string_view input) {
  const SessionPtr s = new_session();
  LumaCoefficients out;
  if (!run_read_luma(s.get(), input, &out)) return std::nullopt;
  return out;
}

bool dct_header_eligible(VipsImage* header, int quality) {
  if (quality >= kFirstUnsubsampledQuality) return false;
  if (vips_image_get_bands(header) != 3 || vips_image_get_format(header) != VIPS_FORMAT_UCHAR)
    return false;
  // The value autorot would act on (missing or invalid counts as 1).
  if (vips_image_get_orientation(header) != 1) return false;
  const long long pixels =
      static_cast<long long>(vips_image_get_width(header)) * vips_image_get_height(header);
  if (pixels > kDctMaxPixels) return false;
  // An sRGB profile is what the full path leaves alone too (no transform, then
  // stripped); any other profile means a colour transform.
  if (vips_image_get_typeof(header, VIPS_META_ICC_NAME) != 0) {
    const void* data = nullptr;
    size_t size = 0;
    if (vips_image_get_blob(header, VIPS_META_ICC_NAME, &data, &size) != 0) {
      discard_vips_error();
      return false;
    }
    if (!is_srgb_profile(data, size)) return false;
  }
  return true;
}

std::optional<std::string> requantise_jpeg(std::string_view input, int quality,
                                           double coarsening_rounding) {
  const SessionPtr s = new_session();
  if (!run(s.get(), input, false, quality, coarsening_rounding)) return std::nullopt;
  return written_bytes(s->output);
}

std::optional<std::string> strip_jpeg(std::string_view input) {
  const SessionPtr s = new_session();
  if (!run(s.get(), input, false, 0, 0)) return std::nullopt;
  return written_bytes(s->output);
}

bool jpeg_layout_eligible(std::string_view input) {
  const SessionPtr s = new_session();
  return run(s.get(), input, true, 50, 0);  // any quality but 0: layout checked
}

}  // namespace imgbatch::imaging::impl
