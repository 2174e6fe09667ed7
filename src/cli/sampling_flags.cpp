#include "cli/sampling_flags.h"

namespace serval::cli {

void add_sampling_flags(CLI::App& cmd, SamplingFlags& f) {
  cmd.add_option("--max-tokens", f.max_tokens, "Tokens to generate at most")->capture_default_str();
  cmd.add_option("--min-tokens", f.min_tokens, "Ignore eos/stop ids before this many tokens");
  cmd.add_option("--temperature", f.temperature, "0 = greedy (default: generation_config.json, else 1.0)");
  cmd.add_option("--top-k", f.top_k, "Keep the K most likely tokens (0 or -1 = all)");
  cmd.add_option("--top-p", f.top_p, "Nucleus sampling threshold in (0, 1]");
  cmd.add_option("--min-p", f.min_p, "Drop tokens below min_p x the top probability");
  cmd.add_option("--repetition-penalty", f.repetition_penalty, "HF-style penalty over prompt and output (1 = off)");
  cmd.add_option("--presence-penalty", f.presence_penalty, "OpenAI-style presence penalty in [-2, 2]");
  cmd.add_option("--frequency-penalty", f.frequency_penalty, "OpenAI-style frequency penalty in [-2, 2]");
  cmd.add_option("--seed", f.seed, "Seed: same seed and prompt give the same output");
  cmd.add_flag("--ignore-eos", f.ignore_eos, "Keep generating past the model's eos ids");
  cmd.add_option("--stop-token-ids", f.stop_token_ids, "Extra ids that end generation")->delimiter(',');
}

SamplingParams make_sampling_params(const SamplingFlags& f, const GenerationConfig& g) {
  SamplingParams p;
  p.temperature = f.temperature.value_or(g.temperature ? static_cast<float>(*g.temperature) : 1.0f);
  p.top_k = f.top_k.value_or(g.top_k ? static_cast<int>(*g.top_k) : 0);
  p.top_p = f.top_p.value_or(g.top_p ? static_cast<float>(*g.top_p) : 1.0f);
  p.min_p = f.min_p.value_or(g.min_p ? static_cast<float>(*g.min_p) : 0.0f);
  p.repetition_penalty =
      f.repetition_penalty.value_or(g.repetition_penalty ? static_cast<float>(*g.repetition_penalty) : 1.0f);
  p.presence_penalty = f.presence_penalty;
  p.frequency_penalty = f.frequency_penalty;
  p.seed = f.seed;
  p.max_tokens = f.max_tokens;
  p.min_tokens = f.min_tokens;
  p.ignore_eos = f.ignore_eos;
  p.stop_token_ids = f.stop_token_ids;
  p.validate();
  return p;
}

}  // namespace serval::cli
