#include "blob/content_type.hpp"

#include <array>

namespace imgbatch::blob {

namespace {

struct ImageType {
  std::string_view extension;
  std::string_view content_type;
};
constexpr std::array<ImageType, 4> kImageTypes{
    {{"jpg", "image/jpeg"}, {"webp", "image/webp"}, {"avif", "image/avif"}, {"png", "image/png"}}};

}  // namespace

std::optional<std::string_view> image_content_type(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto extension = name.substr(dot + 1);
  for (const auto& type : kImageTypes)
    if (type.extension == extension) return type.content_type;
  return std::nullopt;
}

}  // namespace imgbatch::blob
