// FileBlobStore: the `file:DIR` backend. An object "REQ/NAME" is the file DIR/REQ/NAME.
// A put writes a ".tmp-HOST-PID-RANDOM" file in the object's own directory (same file system, so
// the rename is atomic), fsyncs it, renames it over the final name, then fsyncs the
// directory: readers see the old object, the new one, or nothing, never a torn file.
// Safe to use from many threads and many processes on the same directory.
//
// An object's tag is a digest of its bytes, stored as the extended attribute
// user.imgbatch.etag of its file (set on the temporary, so it arrives with the rename).
// Where the file system keeps no user attributes, the tag comes from the file's size,
// modification time and inode instead: still new with every put, but not equal for equal
// bytes put twice.
#pragma once

#include <filesystem>

#include "blob/blob_store.hpp"
#include "temporary_name.hpp"

namespace imgbatch::blob {

inline constexpr const char* kEtagAttribute = "user.imgbatch.etag";

class FileBlobStore final : public BlobStore {
 public:
  // Creates `root` (and its parents) if needed; throws std::runtime_error when it cannot.
  explicit FileBlobStore(const std::filesystem::path& root, BlobStoreOptions options = {});

  PutResult put(const std::string& key, std::string_view bytes) override;
  BlobResult<StoredObject> get(const std::string& key) override;
  BlobResult<ObjectInfo> stat(const std::string& key) override;
  bool exists(const std::string& key) override;
  core::Status remove(const std::string& key) override;
  // Scans DIR/*/ for ".tmp-*" files: one directory read per request directory. Besides
  // those older than `older_than`, removes at once those whose writer is gone (see
  // temporary_name.hpp), so a kill -9 leaves nothing behind after the next start.
  int remove_stale_temporaries(std::chrono::seconds older_than) override;

 private:
  std::filesystem::path root_;  // absolute, so a chdir changes nothing
  BlobStoreOptions options_;
};

}  // namespace imgbatch::blob
