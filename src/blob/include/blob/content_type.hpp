// The content type of a stored image, from its name's extension: the one table that both
// the S3 backend (the Content-Type an object is stored with) and GET /images use.
#pragma once

#include <optional>
#include <string_view>

namespace imgbatch::blob {

// "image/jpeg" for "….jpg", likewise webp, avif and png; nullopt for anything else.
std::optional<std::string_view> image_content_type(std::string_view name);

}  // namespace imgbatch::blob
