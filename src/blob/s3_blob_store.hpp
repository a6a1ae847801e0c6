// S3BlobStore: the `s3://BUCKET/PREFIX` backend. An object "REQ/NAME" is the S3 object
// PREFIX/REQ/NAME (s3_location.hpp), written by one PUT, which S3 makes visible whole or
// not at all, so nothing is ever torn and an interrupted write leaves nothing behind.
// Each PUT carries the image's Content-Type, `Cache-Control: public, max-age=31536000,
// immutable` (an image never changes, so a CDN may keep it), a Content-MD5 that the
// server checks against what arrived, and the signed SHA-256 of the payload. The tag is
// the object's own ETag (its MD5 for a single PUT, so equal bytes keep their tag).
// Safe to use from many threads and processes.
#pragma once

#include <memory>

#include "blob/blob_store.hpp"
#include "s3_client.hpp"
#include "s3_location.hpp"

namespace imgbatch::blob {

inline constexpr const char* kImmutableCacheControl = "public, max-age=31536000, immutable";

class S3BlobStore final : public BlobStore {
 public:
  S3BlobStore(S3Location location, S3Credentials credentials, const std::string& region,
              S3ClientOptions client_options = {});

  // The start-up check: lists one key under the prefix. Throws StorageUnusable saying
  // which of endpoint, bucket, credentials or region is wrong.
  void check();

  PutResult put(const std::string& key, std::string_view bytes) override;
  BlobResult<StoredObject> get(const std::string& key) override;
  BlobResult<ObjectInfo> stat(const std::string& key) override;
  bool exists(const std::string& key) override;
  core::Status remove(const std::string& key) override;
  core::Result<std::string> presigned_url(const std::string& key,
                                          std::chrono::seconds ttl) override;
  void abandon_writes() override { client_.abandon_writes(); }
  void abandon_reads() override { client_.abandon_reads(); }

  const S3Location& location() const { return location_; }

 private:
  S3Location location_;
  S3Client client_;
};

// The S3 credentials of the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the
// optional AWS_SESSION_TOKEN. Throws StorageUnusable naming what is missing.
S3Credentials credentials_from_environment();

}  // namespace imgbatch::blob
