// Dataset spec dispatch (see dataset.h).
#include "bench/datasets/dataset.h"

#include "core/error.h"

namespace serval::bench {

namespace {

std::vector<BenchSample> load_by_spec(const DatasetConfig& config, int num, uint64_t seed,
                                      const TokenCounter& token_counter) {
  const std::string& spec = config.spec;
  if (spec == "random") return random_samples(config, num, seed, token_counter);
  if (spec == "chat") return chat_samples(config, num, seed, token_counter);
  if (spec == "summarize") return summarize_samples(config, num, seed, token_counter);
  if (spec == "shared-prefix") return shared_prefix_samples(config, num, seed, token_counter);
  if (spec.rfind("jsonl:", 0) == 0) return jsonl_samples(spec.substr(6), config, num, seed, token_counter);
  if (spec.rfind("sharegpt:", 0) == 0) return sharegpt_samples(spec.substr(9), num, seed, token_counter);
  throw Error("--dataset '" + spec +
              "' is not one of random, chat, summarize, shared-prefix, jsonl:FILE, sharegpt:FILE");
}

}  // namespace

std::vector<BenchSample> load_samples(const DatasetConfig& config, int num, uint64_t seed,
                                      const TokenCounter& token_counter) {
  if (num <= 0) return {};
  std::vector<BenchSample> samples = load_by_spec(config, num, seed, token_counter);
  if (config.max_tokens > 0)
    for (BenchSample& s : samples) s.output_len = config.max_tokens;
  return samples;
}

}  // namespace serval::bench
