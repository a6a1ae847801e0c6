// Files compiled into the binary: the dashboard (web/) and the OpenAPI description
// (docs/openapi.yaml). src/http/embed_files.cmake generates their definition at build
// time from the files in the source tree, so the binary is self-contained and serves the
// same bytes from any working directory.
#pragma once

#include <span>
#include <string_view>

namespace imgbatch::http {

struct EmbeddedFile {
  std::string_view name;     // path relative to the source tree, e.g. "web/index.html"
  std::string_view content;  // the bytes, exactly
  std::string_view sha256;   // hex digest of content, computed at build time
};

std::span<const EmbeddedFile> embedded_files();

}  // namespace imgbatch::http
