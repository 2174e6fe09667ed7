// SamplingParams: how one request picks its next token, with vLLM's/OpenAI's names and meanings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace serval {

struct SamplingParams {
  float temperature = 1.0f;          // 0 = greedy; must be >= 0
  int top_k = 0;                     // keep the k most likely tokens; 0 or -1 = all
  float top_p = 1.0f;                // nucleus: smallest set with cumulative prob >= top_p; in (0, 1]
  float min_p = 0.0f;                // drop tokens with prob < min_p * max prob; in [0, 1]
  float repetition_penalty = 1.0f;   // HF-style, over prompt and output tokens; > 0, 1 = off
  float presence_penalty = 0.0f;     // OpenAI-style, over output tokens; in [-2, 2]
  float frequency_penalty = 0.0f;    // OpenAI-style, over output tokens; in [-2, 2]
  std::optional<uint64_t> seed;      // same seed + same prompt => same output
  int max_tokens = 16;               // tokens to generate at most; >= 0 (0 only for prompt logprobs)
  int min_tokens = 0;                // eos/stop ids are ignored before this many tokens
  std::vector<int32_t> stop_token_ids;  // extra ids that end generation (the stop id itself is kept out of the text)
  bool ignore_eos = false;           // keep going past eos ids
  int logprobs = -1;                 // -1 = none; k >= 0 = return the sampled token's logprob and the top-k

  bool greedy() const { return temperature < 1e-5f; }
  // Throws serval::Error naming the first invalid field and its value.
  void validate() const;
};

}  // namespace serval
