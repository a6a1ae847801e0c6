// What happens to an image between decoding and encoding: EXIF orientation applied,
// colour made 8-bit sRGB (greyscale stays greyscale), transparency flattened onto white
// when the output cannot carry it. Only the pipeline is built here; pixels flow when the
// encoder pulls them.
#pragma once

#include "core/failure.hpp"
#include "core/result.hpp"
#include "vips_support.hpp"

namespace imgbatch::imaging::impl {

// `image` is replaced by the transformed image. After a failure (convert_error) it may be
// half transformed and is only good for throwing away.
core::Result<core::Ok, core::Failure> prepare(ImagePtr& image, bool keep_alpha);

}  // namespace imgbatch::imaging::impl
