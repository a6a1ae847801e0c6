// Small helpers around the libvips C API used by the compressor: one-time start-up,
// ownership of VipsImage references, and copying libvips' error text out of its global
// buffer. The C API is used rather than vips8's C++ one because it reports failures as
// return codes, which keeps expected failures (corrupt uploads) out of exceptions.
#pragma once

#include <memory>
#include <string>

#include <vips/vips.h>

namespace imgbatch::imaging::impl {

struct ObjectUnref {
  void operator()(void* object) const { g_object_unref(object); }
};
using ImagePtr = std::unique_ptr<VipsImage, ObjectUnref>;

// Starts libvips once per process (later calls do nothing). Throws std::runtime_error
// when libvips cannot start: a start-up failure, not an image problem.
void ensure_vips(const char* argv0);

// libvips keeps one error buffer for the whole process. Take it right after the failing
// call: the copy is made and the buffer cleared under libvips' lock, so another thread's
// message is rarely mixed in. Lines are de-duplicated, joined with "; " and cut to a
// length that fits an error column.
std::string take_vips_error();

// Throws the pending libvips error away (after a failure that is handled, not reported).
void discard_vips_error();

}  // namespace imgbatch::imaging::impl
