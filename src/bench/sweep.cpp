// bench sweep (see sweep.h).
#include "bench/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "bench/report.h"
#include "bench/run_bench.h"
#include "core/error.h"

namespace serval::bench {

namespace {

double parse_one(const std::string& item, const std::string& flag) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(item, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used > 0 && used == item.size() && std::isfinite(v) && v > 0,
        flag + ": '" + item + "' is not a positive number");
  return v;
}

std::vector<std::string> split_commas(const std::string& text, const std::string& flag) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    check(!item.empty(), flag + ": empty item in '" + text + "'");
    items.push_back(item);
  }
  check(!items.empty(), flag + " needs at least one value");
  return items;
}

const Distribution& distribution(const BenchResult& r, const std::string& metric) {
  if (metric == "ttft") return r.ttft_ms;
  if (metric == "tpot") return r.tpot_ms;
  if (metric == "itl") return r.itl_ms;
  if (metric == "e2el") return r.e2el_ms;
  throw Error("unknown metric '" + metric + "'");
}

nlohmann::ordered_json opt(const std::optional<double>& v) { return v ? nlohmann::ordered_json(*v) : nullptr; }

std::string csv_field(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f", v.get<double>());
    return buf;
  }
  if (!v.is_string()) return v.dump();
  const std::string s = v.get<std::string>();
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return quoted + "\"";
}

}  // namespace

std::vector<int> parse_int_list(const std::string& text, const std::string& flag) {
  std::vector<int> out;
  for (const std::string& item : split_commas(text, flag)) {
    const double v = parse_one(item, flag);
    check(v == std::floor(v) && v <= 1e6, flag + ": '" + item + "' is not a positive integer");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

std::vector<double> parse_double_list(const std::string& text, const std::string& flag) {
  std::vector<double> out;
  for (const std::string& item : split_commas(text, flag)) out.push_back(parse_one(item, flag));
  return out;
}

double metric_at(const BenchResult& r, const std::string& metric, double p) {
  const Distribution& d = distribution(r, metric);
  for (const auto& [pp, value] : d.percentiles)
    if (pp == p) return value;
  return p == 50 ? d.median : 0.0;
}

bool cell_meets_slo(const BenchResult& r, const GoodputSlo& slo, double p) {
  if (r.failed > 0 || r.completed == 0) return false;
  if (slo.ttft_ms && metric_at(r, "ttft", p) > *slo.ttft_ms) return false;
  if (slo.tpot_ms && metric_at(r, "tpot", p) > *slo.tpot_ms) return false;
  if (slo.e2el_ms && metric_at(r, "e2el", p) > *slo.e2el_ms) return false;
  return true;
}

SweepResult run_sweep(const SweepConfig& config, const std::function<void(size_t, size_t, const SweepCell&)>& on_cell) {
  check(!config.max_tokens.empty(), "--max-tokens needs at least one value");
  check(!config.request_rates.empty() || !config.concurrencies.empty(), "--concurrency needs at least one value");
  check(config.num_prompts >= 0, "--num-prompts must be >= 0 (0 = auto)");
  check(config.slo_percentile > 0 && config.slo_percentile <= 100, "--slo-percentile must be in (0, 100]");
  check(config.scrape_interval_s > 0, "--scrape-interval must be > 0 seconds");
  for (int c : config.concurrencies) check(c >= 1, "--concurrency values must be >= 1");
  for (int m : config.max_tokens) check(m >= 1, "--max-tokens values must be >= 1");

  SweepResult sweep;
  sweep.config = config;
  BenchConfig base = config.base;
  for (double p : {50.0, 95.0, 99.0, config.slo_percentile})
    if (std::find(base.percentiles.begin(), base.percentiles.end(), p) == base.percentiles.end()) base.percentiles.push_back(p);
  std::sort(base.percentiles.begin(), base.percentiles.end());
  base.keep_text = false;

  const bool rate_grid = !config.request_rates.empty();
  const size_t outer = rate_grid ? config.request_rates.size() : config.concurrencies.size();
  for (size_t i = 0; i < outer; ++i) {
    for (int max_tokens : config.max_tokens) {
      SweepCell cell;
      BenchConfig c = base;
      if (rate_grid) {
        cell.request_rate = config.request_rates[i];
        cell.concurrency = base.max_concurrency;
        c.request_rate = *cell.request_rate;
        cell.num_prompts = config.num_prompts > 0 ? config.num_prompts
                                                  : std::max(16, static_cast<int>(std::ceil(*cell.request_rate * 20)));
      } else {
        cell.concurrency = config.concurrencies[i];
        c.max_concurrency = cell.concurrency;
        c.request_rate = std::numeric_limits<double>::infinity();
        cell.num_prompts = config.num_prompts > 0 ? config.num_prompts : std::max(16, 4 * cell.concurrency);
      }
      cell.max_tokens = max_tokens;
      c.dataset.max_tokens = max_tokens;
      c.num_prompts = cell.num_prompts;
      // A fresh seed per cell: no cell's prompts are already in the prefix cache from an earlier cell.
      c.seed = base.seed + sweep.cells.size();
      validate(c);
      std::optional<MetricsScraper> scraper;
      if (config.scrape_metrics) scraper.emplace(c.base_url, config.scrape_interval_s);
      cell.result = run_bench(c);
      if (scraper) cell.server = scraper->finish();
      cell.result.records.clear();
      cell.result.records.shrink_to_fit();
      cell.meets_slo = cell_meets_slo(cell.result, c.goodput, config.slo_percentile);
      sweep.cells.push_back(std::move(cell));
      if (on_cell) on_cell(sweep.cells.size() - 1, outer * config.max_tokens.size(), sweep.cells.back());
    }
  }
  for (size_t i = 0; i < sweep.cells.size(); ++i) {
    const SweepCell& cell = sweep.cells[i];
    if (!cell.meets_slo) continue;
    if (!sweep.sweet_spot || cell.result.output_throughput > sweep.cells[*sweep.sweet_spot].result.output_throughput)
      sweep.sweet_spot = i;
  }
  return sweep;
}

nlohmann::ordered_json sweep_row(const SweepResult& sweep, const SweepCell& cell) {
  const BenchResult& r = cell.result;
  const double p = sweep.config.slo_percentile;
  nlohmann::ordered_json row;
  row["label"] = sweep.config.label;
  row["concurrency"] = cell.concurrency;
  row["request_rate"] = opt(cell.request_rate);
  row["max_tokens"] = cell.max_tokens;
  row["num_prompts"] = cell.num_prompts;
  row["completed"] = r.completed;
  row["errors"] = r.failed;
  row["p50_ttft_ms"] = metric_at(r, "ttft", 50);
  row["p95_ttft_ms"] = metric_at(r, "ttft", 95);
  row["p50_e2el_ms"] = metric_at(r, "e2el", 50);
  row["p95_e2el_ms"] = metric_at(r, "e2el", 95);
  row["mean_tpot_ms"] = r.tpot_ms.mean;
  row["p95_tpot_ms"] = metric_at(r, "tpot", 95);
  row["p50_itl_ms"] = metric_at(r, "itl", 50);
  row["p95_itl_ms"] = metric_at(r, "itl", 95);
  row["request_throughput"] = r.request_throughput;
  row["output_throughput"] = r.output_throughput;
  row["total_token_throughput"] = r.total_token_throughput;
  row["median_output_tps_per_user"] = r.output_tps_per_user.median;
  row["request_goodput"] = opt(r.request_goodput);
  row["good_request_fraction"] = r.good_request_fraction;
  row["slo_percentile"] = p;
  row["meets_slo"] = cell.meets_slo;
  row["client_degraded"] = r.client_degraded;
  const std::optional<ServerMetrics>& s = cell.server;
  row["kv_cache_usage_max"] = s ? opt(s->kv_cache_usage_max) : nullptr;
  row["num_requests_waiting_max"] = s ? opt(s->num_requests_waiting_max) : nullptr;
  row["num_preemptions"] = s ? opt(s->num_preemptions) : nullptr;
  row["prefix_cache_hit_rate"] = s ? opt(s->prefix_cache_hit_rate) : nullptr;
  row["first_error"] = r.errors.empty() ? std::string() : r.errors.front().first;
  return row;
}

nlohmann::ordered_json sweep_json(const SweepResult& sweep) {
  const SweepConfig& c = sweep.config;
  nlohmann::ordered_json j;
  j["tool"] = "serval bench sweep";
  j["label"] = c.label;
  j["base_url"] = c.base.base_url;
  j["endpoint"] = c.base.endpoint;
  j["model_id"] = c.base.model;
  j["dataset"] = c.base.dataset.spec;
  j["grid"] = c.request_rates.empty() ? "concurrency" : "request_rate";
  j["slo_percentile"] = c.slo_percentile;
  j["goodput"] = {{"ttft_ms", opt(c.base.goodput.ttft_ms)},
                  {"tpot_ms", opt(c.base.goodput.tpot_ms)},
                  {"e2el_ms", opt(c.base.goodput.e2el_ms)}};
  j["sweet_spot"] = sweep.sweet_spot ? nlohmann::ordered_json(*sweep.sweet_spot) : nullptr;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array(), results = nlohmann::ordered_json::array();
  for (const SweepCell& cell : sweep.cells) {
    rows.push_back(sweep_row(sweep, cell));
    BenchConfig bc = c.base;
    bc.max_concurrency = cell.concurrency;
    if (cell.request_rate) bc.request_rate = *cell.request_rate;
    else bc.request_rate = std::numeric_limits<double>::infinity();
    bc.num_prompts = cell.num_prompts;
    bc.dataset.max_tokens = cell.max_tokens;
    bc.seed = c.base.seed + results.size();
    nlohmann::ordered_json result = result_json(cell.result, bc, false);
    if (cell.server) {
      const ServerMetrics& s = *cell.server;
      result["server_metrics"] = {{"num_scrapes", s.num_scrapes},
                                  {"scrape_errors", s.scrape_errors},
                                  {"first_error", s.first_error},
                                  {"kv_cache_usage_max", opt(s.kv_cache_usage_max)},
                                  {"num_requests_waiting_max", opt(s.num_requests_waiting_max)},
                                  {"num_requests_running_max", opt(s.num_requests_running_max)},
                                  {"num_preemptions", opt(s.num_preemptions)},
                                  {"prefix_cache_hits", opt(s.prefix_cache_hits)},
                                  {"prefix_cache_queries", opt(s.prefix_cache_queries)},
                                  {"prefix_cache_hit_rate", opt(s.prefix_cache_hit_rate)}};
    }
    results.push_back(std::move(result));
  }
  j["rows"] = std::move(rows);
  j["results"] = std::move(results);
  return j;
}

std::string sweep_csv(const nlohmann::ordered_json& sweep) {
  std::string out;
  const nlohmann::ordered_json& rows = sweep.at("rows");
  if (rows.empty()) return out;
  bool first = true;
  for (const auto& [key, value] : rows[0].items()) {
    if (!first) out += ',';
    out += key;
    first = false;
  }
  out += "\n";
  for (const nlohmann::ordered_json& row : rows) {
    first = true;
    for (const auto& [key, value] : row.items()) {
      if (!first) out += ',';
      out += csv_field(value);
      first = false;
    }
    out += "\n";
  }
  return out;
}

std::string format_sweep_table(const nlohmann::ordered_json& sweep) {
  std::string out;
  char buf[256];
  const bool rate_grid = sweep.value("grid", "concurrency") == "request_rate";
  std::snprintf(buf, sizeof buf, "%-8s %6s %6s %10s %10s %10s %10s %9s %9s %11s %9s %6s %4s\n",
                rate_grid ? "rate" : "conc", "max_t", "errors", "p50 TTFT", "p95 TTFT", "p50 E2E", "p95 E2E", "TPOT",
                "p50 ITL", "out tok/s", "goodput", "SLO", "");
  out += buf;
  const nlohmann::ordered_json& rows = sweep.at("rows");
  const nlohmann::ordered_json& sweet = sweep.at("sweet_spot");
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::ordered_json& r = rows[i];
    const std::string outer = rate_grid ? (r["request_rate"].is_null() ? std::string("inf") : csv_field(r["request_rate"]))
                                        : std::to_string(r["concurrency"].get<int>());
    const std::string goodput = r["request_goodput"].is_null() ? "-" : csv_field(r["request_goodput"]);
    std::snprintf(buf, sizeof buf, "%-8s %6d %6d %10.1f %10.1f %10.1f %10.1f %9.2f %9.2f %11.1f %9s %6s %4s\n",
                  outer.c_str(), r["max_tokens"].get<int>(), r["errors"].get<int>(), r["p50_ttft_ms"].get<double>(),
                  r["p95_ttft_ms"].get<double>(), r["p50_e2el_ms"].get<double>(), r["p95_e2el_ms"].get<double>(),
                  r["mean_tpot_ms"].get<double>(), r["p50_itl_ms"].get<double>(), r["output_throughput"].get<double>(),
                  goodput.c_str(), r["meets_slo"].get<bool>() ? "yes" : "no",
                  !sweet.is_null() && sweet.get<size_t>() == i ? "<-" : "");
    out += buf;
  }
  if (sweet.is_null()) out += "No cell met the SLO (or every cell had errors).\n";
  else out += "<- sweet spot: the highest output throughput that meets the SLO at " +
              percentile_key(sweep.value("slo_percentile", 95.0)) + "\n";
  return out;
}

}  // namespace serval::bench
