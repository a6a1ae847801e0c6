#include "transform.hpp"

#include <string>
#include <vector>

#include "icc.hpp"

namespace imgbatch::imaging::impl {
namespace {

// Every step here works on an image that decoded: a failure is the conversion's.
core::Failure convert_failure(std::string message) {
  return core::make_failure(core::Failure::Kind::convert_error, std::move(message));
}

// Replaces `image` with what `op(image, &out)` made of it. False (and `image`
// unchanged) when libvips refused; the reason is in its error buffer.
template <class Op>
bool apply(ImagePtr& image, Op op) {
  VipsImage* out = nullptr;
  if (op(image.get(), &out) != 0) return false;
  image.reset(out);
  return true;
}

bool has_non_srgb_profile(VipsImage* image) {
  if (vips_image_get_typeof(image, VIPS_META_ICC_NAME) == 0) return false;
  const void* data = nullptr;
  size_t size = 0;
  if (vips_image_get_blob(image, VIPS_META_ICC_NAME, &data, &size) != 0) {
    discard_vips_error();
    return false;
  }
  return !is_srgb_profile(data, size);
}

// 8-bit sRGB, or 8-bit greyscale for greyscale input: a grey photo stays one band,
// which JPEG stores in a third of the space and every viewer shows the same. Colour
// input with an embedded profile that is not sRGB (CMYK, Adobe RGB, Display P3) goes
// through lcms with that profile, since the profile is stripped on output; greyscale
// profiles are ignored (they differ from plain gamma only slightly).
core::Result<core::Ok, core::Failure> to_display_colour(ImagePtr& image) {
  const VipsInterpretation interpretation = vips_image_guess_interpretation(image.get());
  const bool grey =
      interpretation == VIPS_INTERPRETATION_B_W || interpretation == VIPS_INTERPRETATION_GREY16;
  const VipsInterpretation target = grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;

  if (!grey && has_non_srgb_profile(image.get())) {
    const bool transformed = apply(image, [](VipsImage* in, VipsImage** out) {
      return vips_icc_transform(in, out, "srgb", "embedded", TRUE, "depth", 8, nullptr);
    });
    // A profile lcms cannot use is ignored, as browsers do.
    if (!transformed) discard_vips_error();
  }

  if (vips_image_guess_interpretation(image.get()) != target) {
    if (!vips_colourspace_issupported(image.get()))
      return convert_failure("unsupported colour space: libvips cannot convert " +
                             std::string(vips_enum_nick(VIPS_TYPE_INTERPRETATION, interpretation)) +
                             " images to sRGB");
    if (!apply(image, [target](VipsImage* in, VipsImage** out) {
          return vips_colourspace(in, out, target, nullptr);
        }))
      return convert_failure("cannot convert the image to sRGB: " + take_vips_error());
  }

  if (vips_image_get_format(image.get()) != VIPS_FORMAT_UCHAR &&
      !apply(image, [](VipsImage* in, VipsImage** out) {
        return vips_cast(in, out, VIPS_FORMAT_UCHAR, nullptr);
      }))
    return convert_failure("cannot convert the image to 8 bits: " + take_vips_error());
  return core::Ok{};
}

core::Result<core::Ok, core::Failure> flatten_onto_white(ImagePtr& image) {
  const std::vector<double> white(static_cast<std::size_t>(vips_image_get_bands(image.get()) - 1),
                                  255.0);
  VipsArrayDouble* background = vips_array_double_new(white.data(), static_cast<int>(white.size()));
  const bool flattened = apply(image, [background](VipsImage* in, VipsImage** out) {
    return vips_flatten(in, out, "background", background, nullptr);
  });
  vips_area_unref(VIPS_AREA(background));
  if (!flattened) return convert_failure("cannot flatten transparency: " + take_vips_error());
  return core::Ok{};
}

}  // namespace

core::Result<core::Ok, core::Failure> prepare(ImagePtr& image, bool keep_alpha) {
  // Applies the EXIF orientation and removes the tag, so no viewer rotates twice.
  if (!apply(image, [](VipsImage* in, VipsImage** out) { return vips_autorot(in, out, nullptr); }))
    return convert_failure("cannot apply the EXIF orientation: " + take_vips_error());
  if (auto status = to_display_colour(image); !status) return status;
  if (!keep_alpha && vips_image_hasalpha(image.get()))
    if (auto status = flatten_onto_white(image); !status) return status;
  // Metadata is left to the savers' `strip` (and, for WebP, to strip_webp_metadata).
  return core::Ok{};
}

}  // namespace imgbatch::imaging::impl
