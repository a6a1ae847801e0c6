#include "imaging/compressor.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <vips/vips.h>

#include "codec_steps.hpp"
#include "dct_requantise.hpp"
#include "formats.hpp"
#include "transform.hpp"
#include "vips_support.hpp"
#include "webp_metadata.hpp"

namespace imgbatch::imaging {
namespace {

using impl::ImagePtr;
using impl::OutputKind;
using impl::take_vips_error;
using Kind = core::Failure::Kind;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};

// Largest side each encoder can write (the JPEG and WebP bitstreams cannot say more).
constexpr int kMaxJpegSide = 65535;
constexpr int kMaxWebpSide = 16383;

}  // namespace

namespace impl {

// Opens the image lazily: only the header is read here, pixels are decoded when the
// encoder pulls them. Sequential access lets libvips stream the decode in strips
// instead of holding the whole image; fail_on=truncated turns libvips' default of
// "warn and fill the rest with grey" into an error. No `n`/`page`: the defaults are
// the first page (for HEIF, the primary image), which is what a photo pipeline wants.
// `bytes` is not copied and must outlive the image.
core::Result<ImagePtr, core::Failure> open_lazily(std::string_view bytes,
                                                  const impl::Source& source, VipsAccess access) {
  VipsBlob* blob = vips_blob_new(nullptr, bytes.data(), bytes.size());
  VipsImage* out = nullptr;
  const int rc = vips_call(source.loader, blob, &out, "access", access, "fail_on",
                           VIPS_FAIL_ON_TRUNCATED, nullptr);
  vips_area_unref(VIPS_AREA(blob));
  if (rc != 0) {
    if (source.format == impl::SourceFormat::heif)
      return core::make_failure(Kind::decode_error,
                                "cannot decode HEIF/AVIF image: " + take_vips_error());
    return core::make_failure(Kind::decode_error,
                              "corrupt or truncated image: " + take_vips_error());
  }
  return ImagePtr(out);
}

// Turning by 90 or 180 degrees reads the input out of order, which a sequential load
// refuses ("out of order read"); only a mirror (2) works strip by strip.
bool needs_random_access(VipsImage* image) { return vips_image_get_orientation(image) > 2; }

core::Result<core::Ok, core::Failure> check_pixels(VipsImage* image, long long max_pixels) {
  const long long width = vips_image_get_width(image);
  const long long height = vips_image_get_page_height(image);
  if (max_pixels <= 0 || width * height <= max_pixels) return core::Ok{};
  return core::make_failure(Kind::too_many_pixels,
                            "too many pixels: " + std::to_string(width) + "x" +
                                std::to_string(height) + " is " + std::to_string(width * height) +
                                " pixels, the limit is " + std::to_string(max_pixels));
}

core::Result<core::Ok, core::Failure> check_encodable(VipsImage* image, const OutputKind& kind) {
  const int side = std::max(vips_image_get_width(image), vips_image_get_height(image));
  const int limit = kind.format == core::ImageFormat::jpeg   ? kMaxJpegSide
                    : kind.format == core::ImageFormat::webp ? kMaxWebpSide
                                                             : 0;
  if (limit == 0 || side <= limit) return core::Ok{};
  return core::make_failure(Kind::encode_error,
                            "image too large for " + std::string(kind.name) + ": " +
                                std::to_string(vips_image_get_width(image)) + "x" +
                                std::to_string(vips_image_get_height(image)) + ", " + kind.name +
                                " stores at most " + std::to_string(limit) +
                                " pixels a side (choose png)");
}

// Runs the whole pipeline: decoding happens here, pulled by the encoder, so a corrupt
// or truncated input fails in this call.
int encode(VipsImage* image, const OutputKind& kind, int quality, void** buffer, size_t* length) {
  switch (kind.format) {
    case core::ImageFormat::webp:
      return vips_webpsave_buffer(image, buffer, length, "Q", quality, "strip", TRUE, nullptr);
    case core::ImageFormat::avif:
      // Effort 2 rather than libvips' 4: AV1 at 4 costs several times the CPU for a few
      // percent on photos, and a batch of thousands of images is CPU-bound.
      return vips_heifsave_buffer(image, buffer, length, "Q", quality, "compression",
                                  VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", 2, "strip", TRUE,
                                  nullptr);
    case core::ImageFormat::png:
      // Lossless: quality does not apply. Level 6 is zlib's balance of size and time.
      return vips_pngsave_buffer(image, buffer, length, "compression", 6, "strip", TRUE, nullptr);
    case core::ImageFormat::jpeg:
    case core::ImageFormat::keep:
    case core::ImageFormat::best:  // process() resolves it; compress() alone writes JPEG
      break;
  }
  return vips_jpegsave_buffer(image, buffer, length, "Q", quality, "strip", TRUE, "optimize_coding",
                              TRUE, "interlace", FALSE, nullptr);
}

// Whether this libvips build can write AVIF (libheif needs an AV1 encoder plugin),
// found out once by encoding a tiny image; nullopt when it can, else the reason.
const std::optional<std::string>& avif_unavailable() {
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
    VipsImage* black = nullptr;
    if (vips_black(&black, 8, 8, "bands", 3, nullptr) != 0) return take_vips_error();
    ImagePtr image(black);
    void* buffer = nullptr;
    size_t length = 0;
    const OutputKind kind = impl::output_kind(core::ImageFormat::avif);
    if (encode(image.get(), kind, 50, &buffer, &length) != 0) return take_vips_error();
    g_free(buffer);
    return std::nullopt;
  }();
  return reason;
}

}  // namespace impl

namespace {

using impl::avif_unavailable;
using impl::check_encodable;
using impl::check_pixels;
using impl::encode;
using impl::needs_random_access;
using impl::open_lazily;

// What compress() knows once the header is read and checked, before any decoding.
struct Opened {
  impl::Source source;
  OutputKind kind;
  ImagePtr image;
  int quality;
};

core::Result<Opened, core::Failure> open_checked(std::string_view input,
                                                 const EncodeOptions& options) {
  impl::ensure_vips(nullptr);

  auto source = impl::sniff_source(input);
  if (!source) return source.error();
  const OutputKind kind = impl::output_kind(impl::resolve_format(options.format, source->format));
  if (kind.format == core::ImageFormat::avif && avif_unavailable())
    return core::make_failure(Kind::encode_error,
                              "AVIF output is not available in this libvips build (" +
                                  *avif_unavailable() + "); choose jpeg, webp or png");

  auto image = open_lazily(input, *source, VIPS_ACCESS_SEQUENTIAL);
  if (!image) return image.error();
  if (auto status = check_pixels(image->get(), options.max_pixels); !status) return status.error();
  return Opened{*source, kind, std::move(*image), std::clamp(options.quality, 1, 100)};
}

bool takes_dct_path(const Opened& opened) {
  return opened.source.format == impl::SourceFormat::jpeg &&
         opened.kind.format == core::ImageFormat::jpeg &&
         impl::dct_header_eligible(opened.image.get(), opened.quality);
}

Encoded described(std::string bytes, const OutputKind& kind, VipsImage* image) {
  Encoded encoded;
  encoded.bytes = std::move(bytes);
  encoded.extension = kind.extension;
  encoded.content_type = kind.content_type;
  encoded.width = vips_image_get_width(image);
  encoded.height = vips_image_get_height(image);
  return encoded;
}

// Decodes and re-encodes: the path every input can take.
core::Result<Encoded, core::Failure> encode_fully(std::string_view input, Opened opened) {
  const OutputKind& kind = opened.kind;
  ImagePtr& image = opened.image;
  if (needs_random_access(image.get())) {
    auto reopened = open_lazily(input, opened.source, VIPS_ACCESS_RANDOM);
    if (!reopened) return reopened.error();
    image = std::move(*reopened);
  }
  if (auto status = impl::prepare(image, kind.has_alpha); !status) return status.error();
  if (auto status = check_encodable(image.get(), kind); !status) return status.error();

  void* raw = nullptr;
  size_t length = 0;
  // Decoding happens here, pulled by the encoder: a failure is the input's.
  if (encode(image.get(), kind, opened.quality, &raw, &length) != 0)
    return core::make_failure(Kind::decode_error,
                              "corrupt or truncated image: " + take_vips_error());
  const std::unique_ptr<void, GFree> buffer(raw);

  const std::string_view bytes(static_cast<const char*>(raw), length);
  return described(kind.format == core::ImageFormat::webp ? impl::strip_webp_metadata(bytes)
                                                          : std::string(bytes),
                   kind, image.get());
}

}  // namespace

void init_vips(const char* argv0) { impl::ensure_vips(argv0); }

core::Result<Encoded, core::Failure> compress(std::string_view input,
                                              const EncodeOptions& options) {
  auto opened = open_checked(input, options);
  if (!opened) return opened.error();
  // The DCT-domain path (dct_requantise.hpp) where it gives what the full path would;
  // any complaint from libjpeg (damaged data) leaves the outcome to the full path.
  if (takes_dct_path(*opened))
    if (auto bytes = impl::requantise_jpeg(input, opened->quality))
      return described(std::move(*bytes), opened->kind, opened->image.get());
  return encode_fully(input, std::move(*opened));
}

core::Result<Encoded, core::Failure> compress_full(std::string_view input,
                                                   const EncodeOptions& options) {
  auto opened = open_checked(input, options);
  if (!opened) return opened.error();
  return encode_fully(input, std::move(*opened));
}

bool dct_eligible(std::string_view input, const EncodeOptions& options) {
  auto opened = open_checked(input, options);
  return opened && takes_dct_path(*opened) && impl::jpeg_layout_eligible(input);
}

std::string extension_for(core::ImageFormat format) {
  return impl::output_kind(impl::resolve_format(format, impl::SourceFormat::jpeg)).extension;
}

}  // namespace imgbatch::imaging
