// libvips 8.14's webpsave writes EXIF and XMP chunks even when told to strip (an
// EXIF chunk even for an input that had none), so WebP outputs are cleaned after
// encoding: the EXIF, XMP and ICC chunks of the RIFF container are dropped and their
// VP8X flags cleared. Pixels are untouched: only whole chunks are removed.
#pragma once

#include <string>
#include <string_view>

namespace imgbatch::imaging::impl {

// The WebP file without metadata chunks; a file it cannot parse is returned unchanged
// (it is libwebp's own output, so that would be a bug, not a user's problem).
std::string strip_webp_metadata(std::string_view webp);

}  // namespace imgbatch::imaging::impl
