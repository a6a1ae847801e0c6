// The steps of compress() that process() (imaging/process.hpp) shares: opening an input
// lazily, the pixel and encoder-size checks, and encoding a prepared image. Defined in
// compressor.cpp, where compress() uses them unchanged.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <vips/vips.h>

#include "core/failure.hpp"
#include "core/result.hpp"
#include "formats.hpp"
#include "vips_support.hpp"

namespace imgbatch::imaging::impl {

// Reads the header only; pixels are decoded when something pulls them. `bytes` is not
// copied and must outlive the image. decode_error when the header is unreadable.
core::Result<ImagePtr, core::Failure> open_lazily(std::string_view bytes, const Source& source,
                                                  VipsAccess access);

// Whether applying the EXIF orientation needs random access (a turn by 90 or 180 degrees).
bool needs_random_access(VipsImage* image);

// too_many_pixels when one frame has more than `max_pixels` (0 or less: no limit).
core::Result<core::Ok, core::Failure> check_pixels(VipsImage* image, long long max_pixels);

// encode_error when the output format cannot store the image's sides.
core::Result<core::Ok, core::Failure> check_encodable(VipsImage* image, const OutputKind& kind);

// libvips' saver for `kind` at `quality`, metadata stripped; 0 on success (the buffer is
// g_malloc'd), else the reason is in libvips' error buffer.
int encode(VipsImage* image, const OutputKind& kind, int quality, void** buffer,
           std::size_t* length);

// nullopt when this libvips build can write AVIF, else the reason it cannot.
const std::optional<std::string>& avif_unavailable();

}  // namespace imgbatch::imaging::impl
