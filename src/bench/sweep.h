// bench sweep: one run_bench per cell of a grid (concurrency x max_tokens, or request rate x max_tokens),
// optional /metrics scraping per cell, the SLO check and sweet spot, and the CSV / JSON / console outputs.
// The JSON (sweep_json) is what `bench report` and the HTML report read.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_config.h"
#include "bench/metrics.h"
#include "bench/metrics_scraper.h"

namespace serval::bench {

struct SweepConfig {
  BenchConfig base;                  // target, dataset, SLOs (base.goodput)...; per-cell fields overwritten;
                                     // cell i uses seed base.seed + i, so no cell re-sends an earlier cell's prompts
  std::vector<int> concurrencies = {1, 4, 8, 16, 32};  // --concurrency (closed loop, request rate inf)
  std::vector<double> request_rates;  // --request-rates: when set, the grid is rates x max_tokens instead
  std::vector<int> max_tokens = {64, 128, 256};        // --max-tokens: exact output tokens requested per cell
  int num_prompts = 0;               // per cell; 0 = auto: max(16, 4 x concurrency) or max(16, 20 s x rate)
  std::string label;                 // --label: the device / config name written in every row
  bool scrape_metrics = false;       // --scrape-metrics: read the server's /metrics during each cell
  double scrape_interval_s = 0.5;
  double slo_percentile = 95;        // SLOs are checked on this percentile of each metric
};

struct SweepCell {
  int concurrency = 0;                 // 0 = unlimited (rate grid without --max-concurrency)
  std::optional<double> request_rate;  // set on a rate grid
  int max_tokens = 0;
  int num_prompts = 0;
  BenchResult result;                  // records dropped after metrics
  std::optional<ServerMetrics> server;
  bool meets_slo = false;              // no failures and every given SLO met at slo_percentile
};

struct SweepResult {
  SweepConfig config;
  std::vector<SweepCell> cells;        // grid order: outer concurrency (or rate), inner max_tokens
  std::optional<size_t> sweet_spot;    // the cell with the highest output throughput that meets the SLO
};

// Throws serval::Error for a bad grid or configuration (before any request is sent). Failed requests are
// recorded per cell, never thrown. on_cell(index, total, cell) is called after each cell (progress).
SweepResult run_sweep(const SweepConfig& config,
                      const std::function<void(size_t, size_t, const SweepCell&)>& on_cell = {});

// The value of `metric` (ttft, tpot, itl, e2el) at percentile p of a result; 0 when it was not computed.
double metric_at(const BenchResult& r, const std::string& metric, double p);
// Whether a cell meets every SLO in slo at percentile p (and had no failures).
bool cell_meets_slo(const BenchResult& r, const GoodputSlo& slo, double p);

// Parses "1,4,8" (positive ints) / "0.5,1,2" (positive rates) for `flag`. Throws serval::Error naming it.
std::vector<int> parse_int_list(const std::string& text, const std::string& flag);
std::vector<double> parse_double_list(const std::string& text, const std::string& flag);

// One flat row per cell: the CSV columns, in order.
nlohmann::ordered_json sweep_row(const SweepResult& sweep, const SweepCell& cell);
// The whole sweep: setup, SLOs, sweet spot, rows, and each cell's full vLLM-style result.
nlohmann::ordered_json sweep_json(const SweepResult& sweep);
// CSV (header + one line per cell) from sweep_json's rows.
std::string sweep_csv(const nlohmann::ordered_json& sweep);
// Console table from sweep_json's rows.
std::string format_sweep_table(const nlohmann::ordered_json& sweep);

}  // namespace serval::bench
