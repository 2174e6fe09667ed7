// Generator: runs one sequence to completion on a Model with its own small paged KV cache — the
// engine behind `serval generate` and `serval bench model` (the server uses the batched step loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/sampler.h"
#include "engine/sampling_params.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace serval {

struct GenerateStats {
  int num_prompt_tokens = 0;
  int num_generated_tokens = 0;
  double prefill_seconds = 0.0;  // the prompt's forward pass (incl. sampling the first token)
  double decode_seconds = 0.0;   // every later forward + sample
  bool stopped_by_eos = false;   // false: max_tokens or the context ran out
};

class Generator {
 public:
  // max_model_len bounds prompt + output tokens (0 = the model's max_position_embeddings).
  explicit Generator(Model& model, int max_model_len = 0, int block_size = 16);

  // Generates up to params.max_tokens tokens after prompt_ids, calling on_token for each sampled token
  // (the eos/stop id that ends generation is reported too, with is_stop = true, and not appended).
  // stop_ids: eos ids of the model (ignored with params.ignore_eos) — params.stop_token_ids always stop.
  // Throws serval::Error when the prompt is empty, has ids outside the vocabulary, or does not fit.
  GenerateStats generate(std::span<const int32_t> prompt_ids, const SamplingParams& params,
                         std::span<const int32_t> eos_ids,
                         const std::function<void(const SampleResult& sample, bool is_stop)>& on_token);

  int max_model_len() const { return max_model_len_; }

 private:
  Model& model_;
  int max_model_len_;
  int block_size_;
  KvCache kv_;
};

}  // namespace serval
