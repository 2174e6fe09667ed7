// Sampling flags shared by the commands that generate (names as in vLLM's SamplingParams), and how
// they combine with the model's generation_config.json defaults (vLLM's --generation-config auto).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

#include "engine/sampling_params.h"
#include "model/generation_config.h"

namespace serval::cli {

struct SamplingFlags {
  std::optional<float> temperature;
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;
  int max_tokens = 64;
  int min_tokens = 0;
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;
};

void add_sampling_flags(CLI::App& cmd, SamplingFlags& flags);
// Flags win; unset ones take generation_config.json's value, then vLLM's neutral default.
SamplingParams make_sampling_params(const SamplingFlags& flags, const GenerationConfig& defaults);

}  // namespace serval::cli
