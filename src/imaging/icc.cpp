#include "icc.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace imgbatch::imaging::impl {
namespace {

constexpr std::size_t kHeaderSize = 128;
constexpr std::size_t kTagEntrySize = 12;

std::uint32_t read_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// The description text as ASCII, from a v2 'desc' (textDescriptionType) or a v4 'mluc'
// (multiLocalizedUnicodeType, first record only) tag.
std::string description_text(const unsigned char* tag, std::size_t size) {
  if (size < 12) return {};
  const std::string_view type(reinterpret_cast<const char*>(tag), 4);
  if (type == "desc") {
    const std::size_t count = read_u32(tag + 8);
    if (count > size - 12) return {};
    return std::string(reinterpret_cast<const char*>(tag + 12), count);
  }
  if (type == "mluc" && size >= 28) {
    const std::size_t length = read_u32(tag + 20);
    const std::size_t offset = read_u32(tag + 24);
    if (offset > size || length > size - offset) return {};
    std::string text;
    for (std::size_t i = 0; i + 1 < length; i += 2)
      if (tag[offset + i] == 0) text += static_cast<char>(tag[offset + i + 1]);
    return text;
  }
  return {};
}

}  // namespace

bool is_srgb_profile(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (bytes == nullptr || size < kHeaderSize + 4) return false;
  // The header states the profile's length: a shorter blob was cut off somewhere.
  if (read_u32(bytes) != size) return false;
  if (std::string_view(reinterpret_cast<const char*>(bytes + 16), 4) != "RGB ") return false;

  const std::size_t tags = read_u32(bytes + kHeaderSize);
  if (tags > (size - kHeaderSize - 4) / kTagEntrySize) return false;
  for (std::size_t i = 0; i < tags; ++i) {
    const unsigned char* entry = bytes + kHeaderSize + 4 + i * kTagEntrySize;
    if (std::string_view(reinterpret_cast<const char*>(entry), 4) != "desc") continue;
    const std::size_t offset = read_u32(entry + 4);
    const std::size_t length = read_u32(entry + 8);
    if (offset > size || length > size - offset) return false;
    return description_text(bytes + offset, length).find("sRGB") != std::string::npos;
  }
  return false;
}

}  // namespace imgbatch::imaging::impl
