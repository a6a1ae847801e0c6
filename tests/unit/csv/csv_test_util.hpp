// Helpers shared by the CSV tests: readable failure output for problems and rows.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "csv/csv.hpp"

namespace imgbatch::csv {

inline std::ostream& operator<<(std::ostream& os, const Problem& p) {
  return os << "{line " << p.line << ", column \"" << p.column << "\", \"" << p.message << "\"}";
}

inline std::string describe(const ParseResult& r) {
  std::string s;
  for (const auto& p : r.problems) {
    s += "\n  line " + std::to_string(p.line) + " [" + p.column + "] " + p.message;
  }
  return s.empty() ? "(no problems)" : s;
}

// Parses `text` expecting success; fails the test (with the problems) otherwise.
inline ParsedCsv parse_ok(std::string_view text, const ParseLimits& limits = {}) {
  auto r = parse_and_validate(text, limits);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(r.problems.empty());
  return std::move(r.csv).value_or(ParsedCsv{});
}

// Parses `text` expecting rejection.
inline std::vector<Problem> parse_bad(std::string_view text, const ParseLimits& limits = {}) {
  auto r = parse_and_validate(text, limits);
  EXPECT_FALSE(r.ok()) << "expected problems";
  EXPECT_FALSE(r.problems.empty());
  return r.problems;
}

inline constexpr std::string_view kHeader = "S. No.,Product Name,Input Image Urls\n";

}  // namespace imgbatch::csv
