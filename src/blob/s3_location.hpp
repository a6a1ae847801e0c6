// Where an s3:// storage is: the bucket, the key prefix, and the URLs of its objects.
// `s3://BUCKET` or `s3://BUCKET/PREFIX`; an object KEY ("REQUEST/NAME") is stored as
// PREFIX/KEY. Without an endpoint the bucket is AWS's, addressed virtual-hosted
// (https://BUCKET.s3.REGION.amazonaws.com/PREFIX/KEY), or path-style at
// https://s3.REGION.amazonaws.com when its name has a dot (TLS could not check the host
// otherwise); with an endpoint (Ceph, MinIO, R2…) path-style (ENDPOINT/BUCKET/PREFIX/KEY),
// which every S3-compatible store understands.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace imgbatch::blob {

struct S3Location {
  std::string bucket;
  std::string prefix;  // without leading or trailing slashes; may be empty
  std::string base;    // "https://host[:port]" or "http://…", no trailing slash
  std::string host;    // what the Host header says: "host[:port]"
  // The part of every object's path before the key: "/BUCKET/" (path-style) or "/".
  std::string bucket_path;

  // The URI path of an object: bucket_path + PREFIX/ + key. Keys and prefixes hold only
  // characters that need no percent-encoding, so this is also its canonical form.
  std::string object_path(std::string_view key) const;
  std::string object_url(std::string_view key) const { return base + object_path(key); }
  // GET BUCKET?list-type=2&max-keys=1&prefix=PREFIX/ : the cheapest request that proves
  // the endpoint, the bucket and the credentials at once.
  std::string probe_url() const;
  // For messages: "s3://BUCKET/PREFIX at ENDPOINT".
  std::string describe() const;
};

// Parses the storage URI and endpoint (empty: AWS in `region`). Errors say what is wrong
// and what is expected.
core::Result<S3Location> parse_s3_location(const std::string& uri, const std::string& endpoint,
                                           const std::string& region);

}  // namespace imgbatch::blob
