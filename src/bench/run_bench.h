// run_bench: one complete `bench serve` measurement (dataset -> warmup -> paced streaming run -> metrics).
// `bench serve` calls it once; `bench sweep` will call it once per grid cell.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_config.h"
#include "bench/datasets/dataset.h"
#include "bench/metrics.h"

namespace serval::bench {

// Throws serval::Error for invalid configuration or an unreadable dataset; request failures are
// recorded in the result, never thrown.
BenchResult run_bench(const BenchConfig& config);

// The JSON body sent for one sample (stream, stream_options.include_usage, max tokens, temperature,
// ignore_eos when set). Chat sends `messages` (the sample's, or one user turn of its prompt).
std::string request_body(const BenchConfig& config, const BenchSample& sample);

}  // namespace serval::bench
