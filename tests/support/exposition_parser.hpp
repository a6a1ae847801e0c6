// Reads the Prometheus text format 0.0.4 back, strictly enough to catch what a scraper
// would reject: every sample line must parse, label values must be escaped correctly, and
// each family must have its HELP and TYPE before its samples. Tests only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace imgbatch::test_support {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> help;  // unescaped
  std::map<std::string, std::string> type;
  std::vector<Sample> samples;
  std::vector<std::string> errors;  // empty when everything parsed

  // The value of the one sample with this name and exactly these labels.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const;
  // Samples of this name, in order.
  std::vector<Sample> all(const std::string& name) const;
};

Exposition parse_exposition(const std::string& text);

}  // namespace imgbatch::test_support
