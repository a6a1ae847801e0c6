// BlobStore: where compressed images live. Keys look like "REQUEST_ID/0-1.jpg". A put is
// atomic: readers see the whole object or nothing, and putting the same key twice leaves
// one whole object (a repeated task changes nothing).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::blob {

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  virtual core::Status put(const std::string& key, std::string_view bytes) = 0;
  // The object's bytes; an error when missing or unreadable.
  virtual core::Result<std::string> get(const std::string& key) = 0;
  virtual bool exists(const std::string& key) = 0;
  // A path on the local file system when the backend has one (lets HTTP use sendfile).
  virtual std::optional<std::string> local_path(const std::string& key) = 0;
};

// A key is safe when it is "SEGMENT/SEGMENT" of [A-Za-z0-9._-], with no ".." and no
// leading dot: HTTP paths are turned into keys, so this is the traversal guard.
bool is_safe_key(std::string_view key);

// `file:DIR`. Throws std::runtime_error with a clear message for an unknown URI or a
// directory that cannot be created.
std::unique_ptr<BlobStore> open_blob_store(const std::string& uri);

}  // namespace imgbatch::blob
