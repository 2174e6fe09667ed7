// Benchmark metrics exactly as vLLM's `bench serve` defines them (TTFT, TPOT, ITL, E2EL, throughputs,
// goodput), plus ours: schedule lag, slot wait, per-user decode speed, grouped errors, token cross-check.
// docs/MEASURING.md is the user-facing definition of every field computed here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_config.h"
#include "bench/request_record.h"
#include "bench/stream_client.h"

namespace serval::bench {

// mean / median / population std / percentiles (numpy's default linear interpolation) of one metric.
struct Distribution {
  size_t count = 0;
  double mean = 0;
  double median = 0;
  double std = 0;
  double min = 0;
  double max = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, value)
};

// `lower_is_worse`: for throughput-like values the pNN is taken at (100 - NN), so "p99" is the value
// 99% of samples meet or beat (the slow tail), matching the latency metrics' "p99 = worst 1%" reading.
// An empty input gives all zeros (as vLLM's np.mean(x or 0)).
Distribution summarize(std::vector<double> values, const std::vector<double>& percentiles, bool lower_is_worse = false);
// numpy.percentile(sorted, p) with linear interpolation; sorted must be ascending and non-empty.
double percentile_linear(const std::vector<double>& sorted, double p);

struct TokenCheck {
  int requests_checked = 0;          // successful requests whose usage was compared with the local tokenizer
  int prompt_token_mismatches = 0;   // usage.prompt_tokens != local count (completions endpoint only)
  int output_token_mismatches = 0;   // usage.completion_tokens != local count of the generated text
  double mean_abs_prompt_diff = 0;
  double mean_abs_output_diff = 0;
};

struct BenchResult {
  double duration_s = 0;
  double origin_steady_s = 0;  // the run's time origin on steady_clock (records' times are relative to it)
  int completed = 0;
  int failed = 0;
  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0;       // completed / duration
  std::optional<double> request_goodput;  // good / duration, only with --goodput
  int good_requests = 0;
  double good_request_fraction = 0;    // good / (completed + failed): errors count against it
  double output_throughput = 0;        // total_output_tokens / duration
  double total_token_throughput = 0;   // (input + output tokens) / duration
  double max_output_tokens_per_s = 0;  // busiest 1-second bucket (multi-token chunks split evenly)
  int max_concurrent_requests = 0;     // sweep-line over [start, end) of every request
  Distribution ttft_ms, tpot_ms, itl_ms, e2el_ms;
  Distribution output_tps_per_user;    // per request (output_tokens - 1) / (e2el - ttft) = 1000 / tpot_ms
  Distribution schedule_lag_ms;        // arrival - scheduled: the client's own lateness
  Distribution slot_wait_ms;           // start - arrival: waiting for a --max-concurrency slot
  double schedule_lag_p99_ms = 0;      // always computed, whatever --percentiles asks for
  bool client_degraded = false;        // schedule_lag_p99_ms > kDegradedLagMs: the client, not the server, set the pace
  std::vector<std::pair<std::string, int>> errors;  // message -> count, most frequent first
  int usage_missing = 0;               // successful requests without a usage chunk (tokens counted locally)
  std::optional<TokenCheck> token_check;
  double client_cpu_s = 0;             // the client event loop's CPU time during the measured run
  double client_cpu_us_per_token = 0;  // client_cpu_s / total_output_tokens, in microseconds
  int connections_opened = 0;
  std::vector<RequestRecord> records;  // the measured requests
  std::vector<int> input_lens;         // per request: usage.prompt_tokens, else the dataset's length
  std::vector<int> output_lens;        // per request: usage.completion_tokens (else local count); 0 if failed
};

constexpr double kDegradedLagMs = 50.0;

struct MetricsOptions {
  std::vector<double> percentiles = {50, 90, 95, 99};
  GoodputSlo goodput;
  TokenCounter token_counter;      // optional
  bool compare_prompt_tokens = false;  // completions endpoint: the prompt text is exactly what was tokenized
};

// prompt_lens: the dataset's prompt length per request (used when the server sends no usage).
BenchResult compute_metrics(ClientRunResult run, const std::vector<int>& prompt_lens, const MetricsOptions& options);

}  // namespace serval::bench
