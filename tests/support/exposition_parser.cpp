#include "support/exposition_parser.hpp"

#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

namespace imgbatch::test_support {

namespace {

bool is_name_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return alpha || (!first && c >= '0' && c <= '9');
}

std::optional<double> parse_number(const std::string& text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

// The family a sample belongs to: histogram series carry a suffix.
std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (sample.size() > s.size() && sample.ends_with(s)) {
      const auto base = sample.substr(0, sample.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return sample;
}

}  // namespace

std::optional<double> Exposition::value(const std::string& name,
                                        const std::map<std::string, std::string>& labels) const {
  std::optional<double> found;
  for (const auto& s : samples) {
    if (s.name != name || s.labels != labels) continue;
    if (found) return std::nullopt;  // twice: not a valid exposition
    found = s.value;
  }
  return found;
}

std::vector<Sample> Exposition::all(const std::string& name) const {
  std::vector<Sample> out;
  for (const auto& s : samples)
    if (s.name == name) out.push_back(s);
  return out;
}

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  std::set<std::string> seen_samples_of;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  auto error = [&](const std::string& why) {
    e.errors.push_back("line " + std::to_string(number) + ": " + why + ": " + line);
  };
  if (!text.empty() && text.back() != '\n') e.errors.push_back("no final line feed");
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      const auto rest = line.substr(7);
      const auto space = rest.find(' ');
      if (space == std::string::npos) {
        error("no text after the name");
        continue;
      }
      const auto name = rest.substr(0, space);
      auto body = rest.substr(space + 1);
      if (help) {
        std::string unescaped;
        for (std::size_t i = 0; i < body.size(); ++i) {
          if (body[i] == '\\' && i + 1 < body.size()) {
            const char n = body[++i];
            if (n == 'n')
              unescaped += '\n';
            else if (n == '\\')
              unescaped += '\\';
            else
              error("bad escape in HELP");
          } else {
            unescaped += body[i];
          }
        }
        if (e.help.count(name)) error("second HELP");
        e.help[name] = unescaped;
      } else {
        if (body != "counter" && body != "gauge" && body != "histogram" && body != "summary" &&
            body != "untyped")
          error("unknown type");
        if (e.type.count(name)) error("second TYPE");
        if (seen_samples_of.count(name)) error("TYPE after samples");
        e.type[name] = body;
      }
      continue;
    }
    if (line[0] == '#') continue;

    Sample s;
    std::size_t i = 0;
    while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
    s.name = line.substr(0, i);
    if (s.name.empty()) {
      error("no metric name");
      continue;
    }
    bool ok = true;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        const auto start = i;
        while (i < line.size() && is_name_char(line[i], i == start)) ++i;
        const auto label = line.substr(start, i - start);
        if (label.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
          ok = false;
          break;
        }
        i += 2;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            const char n = line[i++];
            if (n == 'n')
              value += '\n';
            else if (n == '\\' || n == '"')
              value += n;
            else
              ok = false;
          } else {
            value += c;
          }
        }
        if (!closed || s.labels.count(label)) ok = false;
        s.labels[label] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (!ok || i >= line.size() || line[i] != '}') {
        error("malformed labels");
        continue;
      }
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      error("no space before the value");
      continue;
    }
    const auto value = parse_number(line.substr(i + 1));
    if (!value) {
      error("malformed value");
      continue;
    }
    s.value = *value;
    const auto family = family_of(s.name, e.type);
    if (!e.help.count(family) || !e.type.count(family)) error("sample before HELP/TYPE");
    seen_samples_of.insert(family);
    e.samples.push_back(std::move(s));
  }
  return e;
}

}  // namespace imgbatch::test_support
