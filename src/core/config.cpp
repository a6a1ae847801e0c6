#include "core/config.hpp"

namespace imgbatch::core {

std::string Config::effective_public_url() const {
  std::string url = public_url.empty() ? "http://" + listen : public_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace imgbatch::core
