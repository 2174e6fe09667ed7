// Prometheus text parsing (see prometheus_text.h).
#include "bench/prometheus_text.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace serval::bench {

namespace {

bool parse_value(std::string_view token, double& out) {
  if (token == "+Inf" || token == "Inf") return out = INFINITY, true;
  if (token == "-Inf") return out = -INFINITY, true;
  if (token == "NaN") return out = NAN, true;
  const std::string s(token);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

std::optional<PromSample> parse_line(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i == line.size() || line[i] == '#') return std::nullopt;
  PromSample s;
  const size_t name_begin = i;
  while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
  s.name = std::string(line.substr(name_begin, i - name_begin));
  if (i < line.size() && line[i] == '{') {
    const size_t labels_begin = ++i;
    bool quoted = false;
    for (; i < line.size(); ++i) {
      if (quoted && line[i] == '\\') ++i;  // escaped \" \\ \n inside a label value
      else if (line[i] == '"') quoted = !quoted;
      else if (!quoted && line[i] == '}') break;
    }
    if (i >= line.size()) return std::nullopt;
    s.labels = std::string(line.substr(labels_begin, i - labels_begin));
    ++i;
  }
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  size_t value_end = i;
  while (value_end < line.size() && line[value_end] != ' ' && line[value_end] != '\t') ++value_end;
  if (s.name.empty() || !parse_value(line.substr(i, value_end - i), s.value)) return std::nullopt;
  return s;
}

}  // namespace

std::vector<PromSample> parse_prometheus_text(std::string_view text) {
  std::vector<PromSample> samples;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto s = parse_line(line)) samples.push_back(std::move(*s));
    begin = end + 1;
  }
  return samples;
}

std::optional<double> prom_sum(const std::vector<PromSample>& samples, std::string_view name) {
  std::optional<double> sum;
  for (const PromSample& s : samples)
    if (s.name == name) sum = sum.value_or(0.0) + s.value;
  return sum;
}

std::optional<double> prom_sum_any(const std::vector<PromSample>& samples, const std::vector<std::string>& names) {
  for (const std::string& n : names)
    if (auto v = prom_sum(samples, n)) return v;
  return std::nullopt;
}

}  // namespace serval::bench
