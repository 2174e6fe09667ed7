// Sampler: turns one row of raw logits into the next token for one request, applying
// penalties, temperature, min-p, top-k and top-p in vLLM's order, with a per-request RNG so that
// the same seed gives the same tokens whatever else is in the batch.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/sampling_params.h"

namespace serval {

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0.0f;
};

struct SampleResult {
  int32_t token_id = 0;
  float logprob = 0.0f;                    // log-softmax of the RAW logits at token_id
  std::vector<TokenLogprob> top_logprobs;  // top-k of the raw log-softmax, best first (k = params.logprobs)
};

class RequestSampler {
 public:
  // prompt_ids feed the repetition penalty. When params.seed is unset the RNG is seeded from
  // std::random_device.
  RequestSampler(const SamplingParams& params, std::span<const int32_t> prompt_ids);

  // logits: [vocab] raw scores. output_ids: tokens generated so far (for penalties).
  // Does not modify logits.
  SampleResult sample(std::span<const float> logits, std::span<const int32_t> output_ids);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::vector<int32_t> prompt_ids_;
  std::mt19937_64 rng_;
  std::vector<float> work_;  // scratch: transformed logits
  std::vector<int32_t> order_;
};

// log-softmax value of logits[id] and the top-k entries (best first, ties by lower id).
float log_softmax_at(std::span<const float> logits, int32_t id);
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int k);

}  // namespace serval
