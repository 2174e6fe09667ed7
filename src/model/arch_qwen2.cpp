// Qwen2ForCausalLM (Qwen2, Qwen2.5): Llama-style names, q/k/v biases, optional sliding window on the
// layers from max_window_layers on (only when use_sliding_window is true, as in transformers).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/arch_registry.h"

namespace serval {

namespace {

void configure_qwen2(const nlohmann::json& j, const std::string& source, ModelConfig& c) {
  c.attention_qkv_bias = true;
  c.attention_out_bias = false;
  const bool use_sw = j.contains("use_sliding_window") && j["use_sliding_window"].is_boolean() &&
                      j["use_sliding_window"].get<bool>();
  if (!use_sw || !j.contains("sliding_window") || !j["sliding_window"].is_number_integer()) return;
  const int window = j["sliding_window"].get<int>();
  check(window > 0, source + ": 'sliding_window' must be positive when use_sliding_window is true");
  int first = c.num_hidden_layers;
  if (j.contains("max_window_layers") && j["max_window_layers"].is_number_integer())
    first = j["max_window_layers"].get<int>();
  for (int l = std::max(first, 0); l < c.num_hidden_layers; ++l) c.sliding_window[static_cast<size_t>(l)] = window;
}

}  // namespace

const ArchSpec kQwen2Arch = {"Qwen2ForCausalLM", configure_qwen2, hf_llama_model_names, hf_llama_layer_names};

}  // namespace serval
