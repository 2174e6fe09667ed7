// Prometheus text exposition (format 0.0.4) parsing for `bench sweep --scrape-metrics`: the samples of a
// /metrics page, and sums over label sets by metric name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace serval::bench {

struct PromSample {
  std::string name;    // e.g. vllm:num_requests_waiting
  std::string labels;  // the raw text between { and }, "" when none
  double value = 0;
};

// NOTE: hand-written because Debian packages no Prometheus text *parser* for C++ (prometheus-cpp only
// exposes metrics); the format is line-based: `name{labels} value [timestamp]`, '#' lines are HELP/TYPE.
// Malformed lines are skipped (a scrape is best-effort), never thrown.
std::vector<PromSample> parse_prometheus_text(std::string_view text);

// Sum of every sample named `name` (over all label sets); nullopt when there is none.
std::optional<double> prom_sum(const std::vector<PromSample>& samples, std::string_view name);
// The first of `names` that is present, summed (e.g. {"vllm:num_preemptions_total", "vllm:num_preemptions"}).
std::optional<double> prom_sum_any(const std::vector<PromSample>& samples, const std::vector<std::string>& names);

}  // namespace serval::bench
