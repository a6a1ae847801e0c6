#include "core/output_choices.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

namespace imgbatch::core {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

template <class Number>
std::optional<Number> whole_number(std::string_view text) {
  Number value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool valid_size_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxOutputSizeNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::optional<std::string> check_output_sizes(const std::vector<OutputSize>& sizes) {
  if (sizes.size() > static_cast<std::size_t>(kMaxOutputSizes))
    return "sizes: " + std::to_string(sizes.size()) + " sizes, at most " +
           std::to_string(kMaxOutputSizes);
  std::set<std::string> names;
  for (const OutputSize& size : sizes) {
    if (!valid_size_name(size.name))
      return "sizes: name '" + size.name + "' is not 1-" +
             std::to_string(kMaxOutputSizeNameLength) + " characters of a-z, 0-9, _ and -";
    if (!names.insert(size.name).second) return "sizes: duplicate name '" + size.name + "'";
    if (size.width < 1 || size.height < 1 || size.width > kMaxOutputSizeSide ||
        size.height > kMaxOutputSizeSide)
      return "sizes: " + size.name + " is " + std::to_string(size.width) + "x" +
             std::to_string(size.height) + ", each side must be 1-" +
             std::to_string(kMaxOutputSizeSide);
  }
  return std::nullopt;
}

Result<std::vector<OutputSize>> parse_output_sizes(std::string_view text) {
  std::vector<OutputSize> sizes;
  text = trim(text);
  if (text.empty()) return sizes;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    const auto colon = item.find(':');
    const auto x = item.find('x', colon == std::string_view::npos ? 0 : colon);
    const std::string shape =
        "sizes: '" + std::string(item) + "' is not NAME:WIDTHxHEIGHT (e.g. thumb:200x200)";
    if (colon == std::string_view::npos || x == std::string_view::npos) return make_error(shape);
    const auto width = whole_number<int>(item.substr(colon + 1, x - colon - 1));
    const auto height = whole_number<int>(item.substr(x + 1));
    if (!width || !height) return make_error(shape);
    sizes.push_back({std::string(item.substr(0, colon)), *width, *height});
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (auto why = check_output_sizes(sizes)) return make_error(*why);
  return sizes;
}

std::string format_output_sizes(const std::vector<OutputSize>& sizes) {
  std::string text;
  for (const auto& size : sizes) {
    if (!text.empty()) text += ',';
    text += size.name + ':' + std::to_string(size.width) + 'x' + std::to_string(size.height);
  }
  return text;
}

Result<QualityChoice> parse_quality(std::string_view text) {
  text = trim(text);
  if (lower(text) == "auto") return QualityChoice{true, 0};
  const auto value = whole_number<int>(text);
  if (!value || *value < 1 || *value > 100)
    return make_error("quality: must be an integer from 1 to 100 or 'auto', got '" +
                      std::string(text) + "'");
  return QualityChoice{false, *value};
}

Result<double> parse_quality_target(std::string_view text) {
  text = trim(text);
  const auto value = whole_number<double>(text);
  if (!value || !std::isfinite(*value) || *value <= 0 || *value >= 1)
    return make_error("target: must be an SSIM between 0 and 1 (exclusive), e.g. 0.92, got '" +
                      std::string(text) + "'");
  return *value;
}

Result<std::int64_t> parse_max_bytes(std::string_view text) {
  text = trim(text);
  const auto value = whole_number<std::int64_t>(text);
  if (!value || *value < 1)
    return make_error("max_bytes: must be a whole number of bytes, at least 1, got '" +
                      std::string(text) + "'");
  return *value;
}

Result<bool> parse_never_larger(std::string_view text) {
  const std::string word = lower(trim(text));
  if (word == "true" || word == "1" || word == "yes" || word == "on") return true;
  if (word == "false" || word == "0" || word == "no" || word == "off") return false;
  return make_error("never_larger: must be true or false, got '" + std::string(trim(text)) + "'");
}

std::string sized_output_name(std::string_view output_name, std::string_view size) {
  const auto dot = output_name.rfind('.');
  std::string name(output_name.substr(0, dot));
  name.append("-").append(size);
  if (dot != std::string_view::npos) name.append(output_name.substr(dot));
  return name;
}

}  // namespace imgbatch::core
