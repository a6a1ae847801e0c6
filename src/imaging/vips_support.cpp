#include "vips_support.hpp"

#include <mutex>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace imgbatch::imaging::impl {
namespace {

constexpr std::size_t kMaxMessageLength = 300;

// Error text ends up in JSON documents, which must be valid UTF-8; a decoder's message
// may quote bytes of the file. Invalid sequences become '?'.
std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t length = c < 0x80           ? 1
                               : (c >> 5) == 0x06 ? 2
                               : (c >> 4) == 0x0E ? 3
                               : (c >> 3) == 0x1E ? 4
                                                  : 0;
    bool valid = length != 0 && i + length <= s.size();
    for (std::size_t k = 1; valid && k < length; ++k)
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid) {
      out.append(s.substr(i, length));
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

}  // namespace

void ensure_vips(const char* argv0) {
  static std::once_flag once;
  std::call_once(once, [argv0] {
    if (VIPS_INIT(argv0 != nullptr ? argv0 : "imgbatch") != 0)
      throw std::runtime_error("cannot start libvips: " + take_vips_error());
    // libvips warns once per damaged strip of a broken upload, from every thread at
    // once; compress() reports each failure as its result, so the warnings only add
    // noise to the service's output.
    g_log_set_handler(
        "VIPS", G_LOG_LEVEL_WARNING, [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {},
        nullptr);
    // Every image is different, so cached operations are never reused; the cache
    // would only hold memory and file handles.
    vips_cache_set_max(0);
    // One thread per image: throughput comes from many images on many threads, and a
    // per-image thread pool would only add contention.
    vips_concurrency_set(1);
  });
}

std::string take_vips_error() {
  char* raw = vips_error_buffer_copy();
  const std::string text = to_valid_utf8(raw != nullptr ? raw : "");
  g_free(raw);

  std::vector<std::string_view> lines;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const auto line = trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (line.empty()) continue;
    bool seen = false;
    for (auto earlier : lines) seen = seen || earlier == line;
    if (!seen) lines.push_back(line);
  }

  std::string message;
  for (auto line : lines) {
    if (!message.empty()) message += "; ";
    message += line;
  }
  if (message.empty()) return "libvips gave no reason";
  if (message.size() > kMaxMessageLength) {
    std::size_t cut = kMaxMessageLength - 3;
    // Do not cut a UTF-8 sequence in half.
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message.resize(cut);
    message += "...";
  }
  return message;
}

void discard_vips_error() { g_free(vips_error_buffer_copy()); }

}  // namespace imgbatch::imaging::impl
