// UTF-8 well-formedness, one sequence at a time, shared by the CSV checks and the stores'
// text cleaning so that every module agrees on what counts as text.
#pragma once

#include <cstddef>
#include <string_view>

namespace imgbatch::core {

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode Table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one or is
// cut off by the end of `s`. An ASCII byte, NUL included, is a sequence of 1.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

}  // namespace imgbatch::core
