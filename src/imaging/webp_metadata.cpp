#include "webp_metadata.hpp"

#include <cstdint>

namespace imgbatch::imaging::impl {
namespace {

constexpr std::size_t kRiffHeaderSize = 12;  // "RIFF", size, "WEBP"
constexpr std::size_t kChunkHeaderSize = 8;  // FourCC, size
// VP8X flag bits (WebP container spec): ICC profile, EXIF, XMP.
constexpr unsigned char kMetadataFlags = 0x20 | 0x08 | 0x04;

std::uint32_t read_le32(std::string_view s, std::size_t at) {
  return std::uint32_t{static_cast<unsigned char>(s[at])} |
         (std::uint32_t{static_cast<unsigned char>(s[at + 1])} << 8) |
         (std::uint32_t{static_cast<unsigned char>(s[at + 2])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(s[at + 3])} << 24);
}

void write_le32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

bool is_metadata(std::string_view fourcc) {
  return fourcc == "EXIF" || fourcc == "XMP " || fourcc == "ICCP";
}

}  // namespace

std::string strip_webp_metadata(std::string_view webp) {
  if (webp.size() < kRiffHeaderSize || webp.substr(0, 4) != "RIFF" || webp.substr(8, 4) != "WEBP")
    return std::string(webp);

  std::string out;
  out.reserve(webp.size());
  out.append(webp.substr(0, kRiffHeaderSize));
  std::size_t at = kRiffHeaderSize;
  while (at < webp.size()) {
    if (webp.size() - at < kChunkHeaderSize) return std::string(webp);
    const std::string_view fourcc = webp.substr(at, 4);
    const std::size_t payload = read_le32(webp, at + 4);
    const std::size_t padded = payload + (payload & 1);
    if (padded > webp.size() - at - kChunkHeaderSize) return std::string(webp);
    if (!is_metadata(fourcc)) {
      const std::size_t start = out.size();
      out.append(webp.substr(at, kChunkHeaderSize + padded));
      if (fourcc == "VP8X" && payload > 0)
        out[start + kChunkHeaderSize] = static_cast<char>(
            static_cast<unsigned char>(out[start + kChunkHeaderSize]) & ~kMetadataFlags);
    }
    at += kChunkHeaderSize + padded;
  }
  write_le32(out, 4, static_cast<std::uint32_t>(out.size() - 8));
  return out;
}

}  // namespace imgbatch::imaging::impl
