// Metric computation from the client's request records (see metrics.h, docs/MEASURING.md).
#include "bench/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>

namespace serval::bench {

double percentile_linear(const std::vector<double>& sorted, double p) {
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Distribution summarize(std::vector<double> values, const std::vector<double>& percentiles, bool lower_is_worse) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) {
    for (double p : percentiles) d.percentiles.emplace_back(p, 0.0);
    return d;
  }
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  double ss = 0;
  for (double v : values) ss += (v - d.mean) * (v - d.mean);
  d.std = std::sqrt(ss / n);
  d.median = percentile_linear(values, 50);
  d.min = values.front();
  d.max = values.back();
  for (double p : percentiles) d.percentiles.emplace_back(p, percentile_linear(values, lower_is_worse ? 100 - p : p));
  return d;
}

BenchResult compute_metrics(ClientRunResult run, const std::vector<int>& prompt_lens, const MetricsOptions& opt) {
  BenchResult r;
  r.duration_s = run.duration_s;
  r.origin_steady_s = run.origin_steady_s;
  r.client_cpu_s = run.client_cpu_s;
  r.connections_opened = run.connections_opened;
  std::vector<double> ttfts, tpots, itls, e2els, per_user, lags, waits;
  std::map<std::string, int> errors;
  std::map<long, double> tokens_per_second_bucket;
  TokenCheck check;
  long prompt_diff_sum = 0, output_diff_sum = 0;
  const size_t n = run.records.size();
  r.input_lens.assign(n, 0);
  r.output_lens.assign(n, 0);

  for (size_t i = 0; i < n; ++i) {
    const RequestRecord& rec = run.records[i];
    lags.push_back(rec.schedule_lag_s() * 1000.0);
    waits.push_back(rec.slot_wait_s() * 1000.0);
    if (!rec.success) {
      ++r.failed;
      ++errors[rec.error.empty() ? "unknown error" : rec.error];
      continue;
    }
    ++r.completed;
    int output_len = rec.completion_tokens;
    if (output_len < 0) {
      ++r.usage_missing;
      output_len = opt.token_counter ? opt.token_counter(rec.text, false) : rec.num_chunks;
    }
    const int input_len = rec.prompt_tokens >= 0 ? rec.prompt_tokens : (i < prompt_lens.size() ? prompt_lens[i] : 0);
    r.input_lens[i] = input_len;
    r.output_lens[i] = output_len;
    r.total_input_tokens += input_len;
    r.total_output_tokens += output_len;

    const double ttft = (rec.first_chunk_s - rec.start_s) * 1000.0;
    const double e2el = (rec.last_chunk_s - rec.start_s) * 1000.0;
    ttfts.push_back(ttft);
    e2els.push_back(e2el);
    for (float gap : rec.itl_s) itls.push_back(static_cast<double>(gap) * 1000.0);
    double tpot = 0;  // vLLM's goodput treats TPOT as 0 when there is at most one output token
    if (output_len > 1) {
      tpot = (e2el - ttft) / (output_len - 1);
      tpots.push_back(tpot);
      if (e2el > ttft) per_user.push_back((output_len - 1) * 1000.0 / (e2el - ttft));
    }
    const bool good = (!opt.goodput.ttft_ms || ttft <= *opt.goodput.ttft_ms) &&
                      (!opt.goodput.tpot_ms || tpot <= *opt.goodput.tpot_ms) &&
                      (!opt.goodput.e2el_ms || e2el <= *opt.goodput.e2el_ms);
    if (good) ++r.good_requests;

    // Peak tokens/s: each chunk carries an equal share of the request's output tokens.
    if (rec.num_chunks > 0) {
      const double share = static_cast<double>(output_len) / rec.num_chunks;
      double t = rec.first_chunk_s;
      tokens_per_second_bucket[static_cast<long>(std::floor(t))] += share;
      for (float gap : rec.itl_s) {
        t += gap;
        tokens_per_second_bucket[static_cast<long>(std::floor(t))] += share;
      }
    }

    if (opt.token_counter && rec.completion_tokens >= 0) {
      ++check.requests_checked;
      const int local_out = opt.token_counter(rec.text, false);
      output_diff_sum += std::abs(local_out - rec.completion_tokens);
      if (local_out != rec.completion_tokens) ++check.output_token_mismatches;
      if (opt.compare_prompt_tokens && rec.prompt_tokens >= 0 && i < prompt_lens.size()) {
        prompt_diff_sum += std::abs(prompt_lens[i] - rec.prompt_tokens);
        if (prompt_lens[i] != rec.prompt_tokens) ++check.prompt_token_mismatches;
      }
    }
  }

  const double dur = r.duration_s > 0 ? r.duration_s : 1e-9;
  r.request_throughput = r.completed / dur;
  r.output_throughput = static_cast<double>(r.total_output_tokens) / dur;
  r.total_token_throughput = static_cast<double>(r.total_input_tokens + r.total_output_tokens) / dur;
  if (opt.goodput.any()) r.request_goodput = r.good_requests / dur;
  else r.good_requests = r.completed;
  r.good_request_fraction = n > 0 ? static_cast<double>(r.good_requests) / static_cast<double>(n) : 0.0;
  for (const auto& [second, tokens] : tokens_per_second_bucket) r.max_output_tokens_per_s = std::max(r.max_output_tokens_per_s, tokens);

  std::vector<std::pair<double, int>> events;  // sweep line over [start, end)
  for (const RequestRecord& rec : run.records) {
    events.emplace_back(rec.start_s, +1);
    events.emplace_back(rec.end_s, -1);
  }
  std::sort(events.begin(), events.end());  // at equal times the end (-1) sorts first
  int live = 0;
  for (const auto& e : events) r.max_concurrent_requests = std::max(r.max_concurrent_requests, live += e.second);

  const auto& ps = opt.percentiles;
  r.ttft_ms = summarize(std::move(ttfts), ps);
  r.tpot_ms = summarize(std::move(tpots), ps);
  r.itl_ms = summarize(std::move(itls), ps);
  r.e2el_ms = summarize(std::move(e2els), ps);
  r.output_tps_per_user = summarize(std::move(per_user), ps, /*lower_is_worse=*/true);
  if (!lags.empty()) {
    std::vector<double> sorted = lags;
    std::sort(sorted.begin(), sorted.end());
    r.schedule_lag_p99_ms = percentile_linear(sorted, 99);
    r.client_degraded = r.schedule_lag_p99_ms > kDegradedLagMs;
  }
  r.schedule_lag_ms = summarize(std::move(lags), ps);
  r.slot_wait_ms = summarize(std::move(waits), ps);

  r.errors.assign(errors.begin(), errors.end());
  std::stable_sort(r.errors.begin(), r.errors.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (opt.token_counter) {
    if (check.requests_checked > 0) {
      check.mean_abs_output_diff = static_cast<double>(output_diff_sum) / check.requests_checked;
      check.mean_abs_prompt_diff = static_cast<double>(prompt_diff_sum) / check.requests_checked;
    }
    r.token_check = check;
  }
  r.client_cpu_us_per_token = r.total_output_tokens > 0 ? r.client_cpu_s * 1e6 / static_cast<double>(r.total_output_tokens) : 0;
  r.records = std::move(run.records);
  return r;
}

}  // namespace serval::bench
