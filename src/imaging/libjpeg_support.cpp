#include "libjpeg_support.hpp"

#include <jerror.h>

#include <cstdlib>

namespace imgbatch::imaging::impl {
namespace {

[[noreturn]] void jump_back(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegErrors*>(cinfo->err)->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) jump_back(cinfo);  // a warning; levels 0 and up are trace output
}

void fail_out_of_memory(j_compress_ptr cinfo) {
  cinfo->err->msg_code = JERR_OUT_OF_MEMORY;
  cinfo->err->error_exit(reinterpret_cast<j_common_ptr>(cinfo));
}

void init_destination(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<JpegDestination*>(cinfo->dest);
  if (dest->data == nullptr) {
    dest->data = static_cast<unsigned char*>(std::malloc(dest->capacity));
    if (dest->data == nullptr) fail_out_of_memory(cinfo);
  }
  dest->pub.next_output_byte = dest->data;
  dest->pub.free_in_buffer = dest->capacity;
}

// Called when the whole buffer is full.
boolean grow_destination(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<JpegDestination*>(cinfo->dest);
  auto* grown = static_cast<unsigned char*>(std::realloc(dest->data, dest->capacity * 2));
  if (grown == nullptr) fail_out_of_memory(cinfo);  // dest->data is still ours to free
  dest->data = grown;
  dest->pub.next_output_byte = grown + dest->capacity;
  dest->pub.free_in_buffer = dest->capacity;
  dest->capacity *= 2;
  return TRUE;
}

void term_destination(j_compress_ptr) {}

}  // namespace

jpeg_error_mgr* use_jumping_errors(JpegErrors& errors) {
  jpeg_std_error(&errors.pub);
  errors.pub.error_exit = jump_back;
  errors.pub.emit_message = on_message;
  return &errors.pub;
}

bool ycbcr_with_whole_chroma_blocks(const jpeg_decompress_struct& source) {
  if (source.num_components != 3 || source.jpeg_color_space != JCS_YCbCr ||
      source.data_precision != 8)
    return false;
  const jpeg_component_info* c = source.comp_info;
  return c[1].h_samp_factor == 1 && c[1].v_samp_factor == 1 && c[2].h_samp_factor == 1 &&
         c[2].v_samp_factor == 1;
}

void use_growing_destination(jpeg_compress_struct& target, JpegDestination& dest,
                             std::size_t initial_capacity) {
  dest.capacity = initial_capacity;
  dest.pub.init_destination = init_destination;
  dest.pub.empty_output_buffer = grow_destination;
  dest.pub.term_destination = term_destination;
  target.dest = &dest.pub;
}

std::string written_bytes(const JpegDestination& dest) {
  if (dest.data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(dest.data),
                     dest.capacity - dest.pub.free_in_buffer);
}

}  // namespace imgbatch::imaging::impl
