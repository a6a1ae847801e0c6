// The pieces of the Prometheus text format 0.0.4 that need care: escaping HELP text and
// label values, writing numbers (integers exactly, +Inf/-Inf/NaN by name) and checking
// metric and label names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imgbatch::metrics {

// HELP text: backslash and line feed escaped.
std::string escape_help(std::string_view text);
// Label values: backslash, double quote and line feed escaped.
std::string escape_label_value(std::string_view value);

// "3", "0.25", "+Inf", "NaN": the shortest text that reads back as the same double.
std::string format_value(double value);
std::string format_value(std::uint64_t value);
std::string format_value(std::int64_t value);

// `{a="1",b="2"}`, or "" with no labels. `names` and `values` have the same length.
std::string label_set(const std::vector<std::string>& names,
                      const std::vector<std::string>& values);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus).
bool is_valid_label_name(std::string_view name);

}  // namespace imgbatch::metrics
