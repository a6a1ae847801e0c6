// What every direct use of libjpeg here (dct_requantise.cpp, raw_planes.cpp) needs around
// it: errors and warnings that jump back to the caller instead of exiting the process or
// printing, and an output buffer that can be freed after an error.
//
// The pattern, in both users: everything libjpeg touches lives in one heap-allocated,
// trivially destructible struct, freed by a unique_ptr on every path; the work is done in
// a function of its own frame, called right after setjmp, holding no objects with
// destructors (a longjmp abandons that frame without unwinding it).
#pragma once

// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>

#include <csetjmp>
#include <string>

namespace imgbatch::imaging::impl {

// libjpeg reports errors, and warnings (corrupt data, premature end, …), through this;
// both jump back: a warning means damaged data, whose outcome must stay that of the full
// path (libvips, which fails on them). libjpeg's defaults would exit the process and print
// to stderr.
struct JpegErrors {
  jpeg_error_mgr pub;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
};

// Sets `errors` up as above; returns &errors.pub for a struct's `err`.
jpeg_error_mgr* use_jumping_errors(JpegErrors& errors);

// 8-bit YCbCr, three components, both chroma components one block per MCU (1x1): what
// both direct paths start from; each then says which luma sampling it takes.
bool ycbcr_with_whole_chroma_blocks(const jpeg_decompress_struct& source);

// A malloc'd buffer that doubles when full. Not jpeg_mem_dest: its buffer cannot be
// freed safely after an error, since it only publishes the current one at the end.
struct JpegDestination {
  jpeg_destination_mgr pub;  // first: libjpeg hands back a pointer to it
  unsigned char* data;       // owned: std::free it (also after an error)
  std::size_t capacity;
};

// Makes `dest` (zeroed) the output of `target`, starting with `initial_capacity` bytes.
void use_growing_destination(jpeg_compress_struct& target, JpegDestination& dest,
                             std::size_t initial_capacity);

// The bytes written so far.
std::string written_bytes(const JpegDestination& dest);

}  // namespace imgbatch::imaging::impl
