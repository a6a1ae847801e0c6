// A cheap look into an embedded ICC profile, to skip a colour transform that would
// change nothing: most photos that carry a profile carry an sRGB one, and running them
// through lcms costs about as much as decoding them.
#pragma once

#include <cstddef>

namespace imgbatch::imaging::impl {

// True when the profile is an RGB profile whose description names sRGB
// ("sRGB IEC61966-2.1", "sRGB built-in", …). False for anything else, including
// malformed profiles, which then go through the full transform (or its fallback).
bool is_srgb_profile(const void* data, std::size_t size);

}  // namespace imgbatch::imaging::impl
