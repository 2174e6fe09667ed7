// make-model: writes a complete Hugging Face-format checkpoint directory with deterministic random
// weights (config.json, model.safetensors, generation_config.json, tokenizer files) for tests and benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace serval {

struct MakeModelOptions {
  std::string arch = "qwen2";    // "qwen2" | "llama" | "phi3" | "gemma2" | "phi2"
  // "tiny" (every arch) | "qwen2.5-0.5b" | "qwen2.5-1.5b" (qwen2) | "llama-3.2-1b" (llama) |
  // "phi-3-mini-4k" (phi3) | "gemma-2-2b" (gemma2) | "phi-2" (phi2)
  std::string preset = "tiny";
  std::string out_dir;           // created if missing; existing files are overwritten
  uint64_t seed = 0;             // same seed => byte-identical model.safetensors
  std::string dtype = "bfloat16";  // bfloat16 | float16 | float32
};

// The (arch, preset) pairs make_model accepts, as "arch/preset".
std::vector<std::string> make_model_presets();

// The config.json make_model writes for (arch, preset) in `dtype`, as text (for plans and tests of the
// real-shape presets without writing their weights). Throws serval::Error like make_model.
std::string make_model_config_json(const std::string& arch, const std::string& preset, const std::string& dtype);

// Writes the directory. Weights: uniform with std 0.02 for matrices and biases, norms 1 + U(+-0.1)
// (not exactly 1, so a misplaced norm shows in tests; Gemma's stored w of its (1 + w) norms: U(+-0.1)). Streams the file in chunks generated in parallel,
// so multi-GB presets take seconds. Throws serval::Error on an unknown arch/preset/dtype or I/O failure.
void make_model(const MakeModelOptions& opts);

}  // namespace serval
