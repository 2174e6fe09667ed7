// bench probe: cold vs warm time to first token. Each probe sends a prompt with a never-seen prefix
// (cold: nothing of it can be in the server's prefix cache), then the same prompt again (warm), one
// request at a time on a kept-alive connection; reports p50/p95 of both and their ratio.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_config.h"
#include "bench/metrics.h"

namespace serval::bench {

struct ProbeConfig {
  BenchConfig base;       // target (base_url, endpoint, model, api_key, timeout_s), seed, temperature
  int num_probes = 5;     // cold/warm pairs
  int warm_repeats = 1;   // warm requests after each cold one
  int prompt_len = 512;   // prompt tokens (approximate without a tokenizer): long enough for prefill to show
  int max_tokens = 16;    // output tokens per request
};

struct ProbeResult {
  Distribution cold_ttft_ms, warm_ttft_ms, cold_e2el_ms, warm_e2el_ms;
  double ttft_ratio = 0;  // median cold TTFT / median warm TTFT (0 when either is missing)
  int completed = 0;
  int failed = 0;
  std::vector<std::pair<std::string, int>> errors;  // message -> count, most frequent first
  std::vector<double> cold_ttfts_ms, warm_ttfts_ms;  // per request, in send order
};

// Throws serval::Error for a bad configuration; request failures are counted, not thrown.
ProbeResult run_probe(const ProbeConfig& config);

nlohmann::ordered_json probe_json(const ProbeResult& result, const ProbeConfig& config);
std::string format_probe(const ProbeResult& result);

}  // namespace serval::bench
