// Bench reports: vLLM's console "Serving Benchmark Result" block and the --save-result JSON (vLLM's
// field names where the meaning matches, plus ours), optionally with per-request arrays.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bench/bench_config.h"
#include "bench/metrics.h"

namespace serval::bench {

std::string format_summary(const BenchResult& result, const BenchConfig& config);
// `detailed` adds vLLM's per-request arrays (input_lens, output_lens, ttfts, itls, ...; seconds as vLLM).
nlohmann::ordered_json result_json(const BenchResult& result, const BenchConfig& config, bool detailed);
// Writes json to path (pretty-printed). Throws serval::Error naming the path when it cannot.
void save_json(const std::string& path, const nlohmann::ordered_json& json);

}  // namespace serval::bench
