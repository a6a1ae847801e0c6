// Log set-up: human-readable text, or one JSON object per line for log collectors.
#pragma once

#include <string>

namespace imgbatch {

void setup_logging(const std::string& format);

}  // namespace imgbatch
