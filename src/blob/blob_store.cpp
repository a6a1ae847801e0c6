#include "blob/blob_store.hpp"

#include <stdexcept>

#include "file_blob_store.hpp"
#include "s3_blob_store.hpp"

namespace imgbatch::blob {
namespace {

constexpr std::size_t kMaxSegment = 255;  // NAME_MAX on Linux file systems

bool is_safe_segment(std::string_view s) {
  if (s.empty() || s.size() > kMaxSegment || s.front() == '.') return false;
  if (s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

core::Result<std::string> BlobStore::presigned_url(const std::string& key,
                                                   std::chrono::seconds ttl) {
  (void)ttl;
  return core::make_error("this storage cannot make presigned URLs (" + key +
                          "); use s3:// storage");
}

bool is_safe_key(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  return is_safe_segment(key.substr(0, slash)) && is_safe_segment(key.substr(slash + 1));
}

std::unique_ptr<BlobStore> open_blob_store(const std::string& uri,
                                           const BlobStoreOptions& options) {
  if (uri.rfind("s3://", 0) == 0) {
    auto location = parse_s3_location(uri, options.s3_endpoint, options.s3_region);
    if (!location) throw StorageUnusable(location.message());
    auto store = std::make_unique<S3BlobStore>(std::move(location.value()),
                                               credentials_from_environment(), options.s3_region);
    store->check();
    return store;
  }
  constexpr std::string_view kFile = "file:";
  if (uri.rfind(kFile, 0) != 0) {
    throw std::runtime_error("unsupported storage URI \"" + uri +
                             "\": expected file:DIR (for example file:data/images) or "
                             "s3://BUCKET[/PREFIX]");
  }
  std::string dir = uri.substr(kFile.size());
  if (dir.rfind("//", 0) == 0) {
    // file:///abs/dir is file:/abs/dir; a host part (file://host/dir) means nothing here.
    dir.erase(0, 2);
    if (dir.empty() || dir.front() != '/') {
      throw std::runtime_error("unsupported storage URI \"" + uri +
                               "\": a file URI cannot name a host; use file:DIR or file:///DIR");
    }
  }
  if (dir.empty()) {
    throw std::runtime_error(
        "storage URI \"" + uri +
        "\" names no directory: expected file:DIR (for example file:data/images)");
  }
  return std::make_unique<FileBlobStore>(dir, options);
}

}  // namespace imgbatch::blob
