// ImageLinks: the URL a client is handed for a stored image, in GET /status, the output
// CSV and the webhook body. Which kind is chosen once, at start-up (--image-urls):
//   proxy      PUBLIC_URL/images/ID/NAME, served by imgbatch itself from the blob store;
//   public     BASE/ID/NAME, where BASE (--image-base-url) is a CDN or a public bucket
//              that maps to the storage's root (an s3:// prefix included);
//   presigned  a time-limited link straight to the object store (made by the blob
//              backend, see app/image_links).
// URLs are made when a document is rendered, never stored, so changing the kind or the
// base changes every later answer and a presigned link is always fresh when handed out.
#pragma once

#include <string>
#include <string_view>

namespace imgbatch::core {

class ImageLinks {
 public:
  virtual ~ImageLinks() = default;
  // `output_name` is the stored image's name in its request, e.g. "0-1.jpg".
  virtual std::string image_url(std::string_view request_id,
                                std::string_view output_name) const = 0;
  // The URL of the image a request names `output_name` that is stored under `stored_key`
  // (its blob key, "ID/NAME"; another request's when shared, docs/architecture.md):
  // links straight to the storage name the key; proxy links keep the request's own URL,
  // which the image route resolves.
  virtual std::string stored_image_url(std::string_view request_id, std::string_view output_name,
                                       std::string_view stored_key) const;
};

// The URL of `image` (done) of request `request_id`, or of its size `size` (when not
// empty): image_url for an image stored under its own name, stored_image_url for a shared
// one.
struct ImageRecord;
std::string done_image_url(const ImageLinks& links, std::string_view request_id,
                           const ImageRecord& image, std::string_view size = {});

// PUBLIC_URL/images/ID/NAME (the default; also what an old client expects).
class ProxyImageLinks final : public ImageLinks {
 public:
  explicit ProxyImageLinks(std::string public_url);
  std::string image_url(std::string_view request_id, std::string_view output_name) const override;
  std::string stored_image_url(std::string_view request_id, std::string_view output_name,
                               std::string_view stored_key) const override;

 private:
  std::string public_url_;
};

// BASE/ID/NAME; a trailing slash of BASE is dropped.
class BaseUrlImageLinks final : public ImageLinks {
 public:
  explicit BaseUrlImageLinks(std::string base_url);
  std::string image_url(std::string_view request_id, std::string_view output_name) const override;

 private:
  std::string base_url_;
};

}  // namespace imgbatch::core
