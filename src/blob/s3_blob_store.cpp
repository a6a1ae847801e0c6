#include "s3_blob_store.hpp"

#include <cstdlib>

#include "blob/content_type.hpp"

namespace imgbatch::blob {

namespace {

core::Error invalid_key(const std::string& key) {
  return core::make_error("invalid image key \"" + key + "\"");
}

BlobError not_found(const std::string& key) {
  return {BlobError::Kind::not_found, "image " + key + " not found"};
}

// A read that did not come back with the object. 404 is the only answer that says it is
// not there; the rest (no answer, 5xx, 403 after a credentials change) is the storage's.
BlobError read_error(const std::string& key, const S3Response& response) {
  if (response.status == 404) return not_found(key);
  return {BlobError::Kind::unavailable,
          "could not read image " + key + ": S3 answered " + response.describe()};
}

// Every tag we hand out comes from the store; an answer without one is not usable.
BlobError no_etag(const std::string& key) {
  return {BlobError::Kind::unavailable,
          "could not read image " + key + ": S3 answered without an ETag"};
}

// An ETag header as a tag: without its quotes (and a weak prefix), in lower case; only
// [0-9a-z-] is kept, so the tag may be quoted into a header of ours as it is.
std::string tag_of(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  std::string tag;
  for (char c : etag) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-') tag += c;
  }
  return tag;
}

// A 4xx that names this object's content (EntityTooLarge, BadDigest, InvalidDigest…) will
// not change however often it is sent. Refused credentials or a missing bucket (403,
// 404), throttling and timeouts are the storage's state, which does change.
bool refuses_the_object(const S3Response& response) {
  const long s = response.status;
  return s >= 400 && s < 500 && s != 401 && s != 403 && s != 404 && s != 408 && s != 429 &&
         !response.transient();
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

S3Credentials credentials_from_environment() {
  S3Credentials credentials{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                            env("AWS_SESSION_TOKEN")};
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty())
    throw StorageUnusable(
        "s3:// storage needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
        "AWS_SESSION_TOKEN for temporary credentials) in the environment");
  return credentials;
}

S3BlobStore::S3BlobStore(S3Location location, S3Credentials credentials, const std::string& region,
                         S3ClientOptions client_options)
    : location_(std::move(location)), client_(std::move(credentials), region, client_options) {}

void S3BlobStore::check() {
  const auto response = client_.send("GET", location_.probe_url());
  if (response.ok()) return;
  const std::string where = location_.describe();
  if (response.status == 0)
    throw StorageUnusable("cannot reach S3 endpoint " + location_.base + " (for " + where +
                          "): " + response.transport_error);
  const auto& code = response.error_code;
  if (code == "NoSuchBucket" || (response.status == 404 && code.empty()))
    throw StorageUnusable("bucket " + location_.bucket + " does not exist at " + location_.base);
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" ||
      code == "ExpiredToken" || code == "AccessDenied" || (response.status == 403 && code.empty()))
    throw StorageUnusable("S3 refused the credentials for " + where + ": " + response.describe() +
                          " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and their "
                          "permission to list and write the prefix)");
  if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
      response.status == 301)
    throw StorageUnusable("S3 says " + where + " is in another region than --s3-region " +
                          client_.region() + ": " + response.describe());
  throw StorageUnusable("S3 storage " + where + " cannot be used: " + response.describe());
}

PutResult S3BlobStore::put(const std::string& key, std::string_view bytes) {
  if (!is_safe_key(key)) return BlobError{BlobError::Kind::refused, invalid_key(key).message};
  const auto type = image_content_type(key).value_or("application/octet-stream");
  const std::vector<std::string> headers = {"Content-Type: " + std::string(type),
                                            std::string("Cache-Control: ") + kImmutableCacheControl,
                                            "Content-MD5: " + md5_base64(bytes)};
  const auto response = client_.send("PUT", location_.object_url(key), headers, bytes);
  if (response.ok()) return core::Ok{};
  return BlobError{
      refuses_the_object(response) ? BlobError::Kind::refused : BlobError::Kind::unavailable,
      "could not store image: S3 answered " + response.describe()};
}

BlobResult<StoredObject> S3BlobStore::get(const std::string& key) {
  if (!is_safe_key(key)) return BlobError{BlobError::Kind::not_found, invalid_key(key).message};
  auto response = client_.send("GET", location_.object_url(key));
  if (!response.ok()) return read_error(key, response);
  auto tag = tag_of(response.etag);
  if (tag.empty()) return no_etag(key);
  return StoredObject{std::move(response.body), std::move(tag)};
}

BlobResult<ObjectInfo> S3BlobStore::stat(const std::string& key) {
  if (!is_safe_key(key)) return BlobError{BlobError::Kind::not_found, invalid_key(key).message};
  const auto response = client_.send("HEAD", location_.object_url(key));
  if (!response.ok()) return read_error(key, response);
  auto tag = tag_of(response.etag);
  if (tag.empty()) return no_etag(key);
  if (response.content_length < 0)
    return BlobError{BlobError::Kind::unavailable,
                     "could not read image " + key + ": S3 answered without a Content-Length"};
  return ObjectInfo{std::move(tag), response.content_length};
}

bool S3BlobStore::exists(const std::string& key) {
  if (!is_safe_key(key)) return false;
  return client_.send("HEAD", location_.object_url(key)).ok();
}

core::Status S3BlobStore::remove(const std::string& key) {
  if (!is_safe_key(key)) return invalid_key(key);
  // S3 answers 204 whether or not the object was there; some compatible stores say 404.
  const auto response = client_.send("DELETE", location_.object_url(key));
  if (response.ok() || response.status == 404) return core::Ok{};
  return core::make_error("could not remove image " + key + ": S3 answered " + response.describe());
}

core::Result<std::string> S3BlobStore::presigned_url(const std::string& key,
                                                     std::chrono::seconds ttl) {
  if (!is_safe_key(key)) return invalid_key(key);
  PresignRequest request{location_.host, location_.object_path(key), client_.region(),
                         std::chrono::system_clock::now(), ttl};
  return location_.object_url(key) + "?" + presign_get_query(request, client_.credentials());
}

}  // namespace imgbatch::blob
