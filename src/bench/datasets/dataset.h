// Benchmark datasets: turn a --dataset spec into the list of prompts (with target output lengths) a
// run sends. Synthetic ones (random, chat, summarize, shared-prefix) are generated from a seed; file
// ones (jsonl:FILE, sharegpt:FILE) are read and sampled. Bad files throw serval::Error naming file and line.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_config.h"

namespace serval::bench {

struct BenchSample {
  std::string prompt;       // the completions prompt (chat: the text of all messages, for counting)
  nlohmann::json messages;  // chat messages when the source has them; null = send `prompt` as one user turn
  int prompt_len = 0;       // tokens: exact with a token counter, else an estimate
  int output_len = 0;       // max_tokens to request
};

// num samples for `config.spec`, deterministic for (config, seed). token_counter may be empty.
std::vector<BenchSample> load_samples(const DatasetConfig& config, int num, uint64_t seed,
                                      const TokenCounter& token_counter);

// Per-kind generators (datasets/*.cpp).
std::vector<BenchSample> random_samples(const DatasetConfig& c, int num, uint64_t seed, const TokenCounter& tc);
std::vector<BenchSample> chat_samples(const DatasetConfig& c, int num, uint64_t seed, const TokenCounter& tc);
std::vector<BenchSample> summarize_samples(const DatasetConfig& c, int num, uint64_t seed, const TokenCounter& tc);
std::vector<BenchSample> shared_prefix_samples(const DatasetConfig& c, int num, uint64_t seed, const TokenCounter& tc);
std::vector<BenchSample> jsonl_samples(const std::string& path, const DatasetConfig& c, int num, uint64_t seed,
                                       const TokenCounter& tc);
std::vector<BenchSample> sharegpt_samples(const std::string& path, int num, uint64_t seed, const TokenCounter& tc);

}  // namespace serval::bench
