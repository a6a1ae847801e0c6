// BlobStore: where compressed images live. Keys look like "REQUEST_ID/0-1.jpg". A put is
// atomic: readers see the whole object or nothing, and putting the same key twice leaves
// one whole object (a repeated task changes nothing). Backends are chosen once, at
// start-up, by open_blob_store from a URI: `file:DIR` or `s3://BUCKET/PREFIX`.
//
// Every object has an entity tag, recorded when it is stored, so that serving an image
// never means hashing it: GET /images answers If-None-Match from the tag alone. A tag
// changes whenever the bytes do; equal bytes put again keep their tag where the backend
// records a digest (the file backend does, in an extended attribute; an object store
// such as S3 has its own ETag).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::blob {

// A stored object and its entity tag (opaque text without quotes, [0-9a-z-] only, so the
// caller may quote it as an HTTP ETag).
struct StoredObject {
  std::string bytes;
  std::string etag;
};

// What stat() tells of an object without reading it: enough for a HEAD or a 304.
struct ObjectInfo {
  std::string etag;
  std::int64_t size = 0;
};

// Why a read or a write failed.
// - not_found (reads): the object is not there, or the key cannot name one: a 404.
// - unavailable: the storage itself is failing — a full or read-only disk, an object
//   store that does not answer or refuses the credentials. Says nothing about the image:
//   try again later (a 503 for reads; the pipeline holds the image until a write works).
// - refused (writes): the storage will not take this object, however often asked — too
//   large, a checksum it does not accept, a key it cannot hold. The image's own failure.
struct BlobError {
  enum class Kind { not_found, unavailable, refused };
  Kind kind = Kind::unavailable;
  std::string message;
};

template <class T>
using BlobResult = core::Result<T, BlobError>;
using PutResult = BlobResult<core::Ok>;

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Errors are values with a kind (unavailable or refused) and a message fit for an
  // image's error entry, e.g. "could not store image: No space left on device".
  virtual PutResult put(const std::string& key, std::string_view bytes) = 0;
  // The object's bytes and tag; not_found when missing, unavailable when unreadable.
  virtual BlobResult<StoredObject> get(const std::string& key) = 0;
  // The object's tag and size, without reading its bytes; errors as for get.
  virtual BlobResult<ObjectInfo> stat(const std::string& key) = 0;
  virtual bool exists(const std::string& key) = 0;
  // Removes the object. One that is not there is no error, so that a deletion cut short
  // can simply run again. Meant for requests that have ended: a put racing with the
  // removal of its request's last object may fail once (it is tried again).
  virtual core::Status remove(const std::string& key) = 0;

  // A time-limited GET URL for the object (S3: query-string SigV4); an error for
  // backends that cannot make one (file).
  virtual core::Result<std::string> presigned_url(const std::string& key, std::chrono::seconds ttl);

  // From now on puts (or reads) fail at once as unavailable, those in progress included,
  // where they can hang (an object store that stopped answering): for a shutdown, which
  // must not wait on a hung storage — writes past the pipeline's grace period, reads once
  // the HTTP server stops. Local files cannot hang that way: the file backend ignores it.
  virtual void abandon_writes() {}
  virtual void abandon_reads() {}

  // Removes what a put killed half-way (kill -9, power loss) left behind: whatever is
  // older than `older_than`, and younger leftovers the backend can prove abandoned (their
  // writer is gone) — a younger one may be a put in progress in another process sharing
  // the storage. Meant to run at start-up; returns how many objects were removed.
  // Backends with nothing to clean keep this default.
  virtual int remove_stale_temporaries(std::chrono::seconds older_than) {
    (void)older_than;
    return 0;
  }
};

struct BlobStoreOptions {
  // fsync each object and its directory before put returns, so an image the Store records
  // as done survives a power loss. Only benchmarks and throw-away runs should turn it off.
  bool fsync = true;
  std::string s3_endpoint;  // empty: AWS, https://s3.REGION.amazonaws.com, virtual-hosted
  std::string s3_region = "us-east-1";
};

// Thrown by open_blob_store when the storage cannot be used at all (start-up check):
// the message says which: endpoint unreachable, bucket missing, credentials refused.
class StorageUnusable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A key is safe when it is "SEGMENT/SEGMENT" of [A-Za-z0-9._-], with no ".." and no
// leading dot: HTTP paths are turned into keys, so this is the traversal guard. (The
// leading-dot rule also keeps keys apart from the file backend's ".tmp-" temporaries.)
bool is_safe_key(std::string_view key);

// `file:DIR` (relative or absolute; `file:///abs/dir` also works). Creates DIR. Throws
// std::runtime_error with a clear message for an unknown URI or a directory that cannot
// be created.
std::unique_ptr<BlobStore> open_blob_store(const std::string& uri,
                                           const BlobStoreOptions& options = {});

}  // namespace imgbatch::blob
