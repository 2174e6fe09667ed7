// LlamaForCausalLM (Llama 2/3/3.1/3.2): Llama names, optional attention_bias (q/k/v/o) and mlp_bias,
// RoPE scaling parsed by the common config code (llama3 type).
#include <nlohmann/json.hpp>

#include "model/arch_registry.h"

namespace serval {

namespace {

void configure_llama(const nlohmann::json& j, const std::string& source, ModelConfig& c) {
  const bool attention_bias = j.contains("attention_bias") && j["attention_bias"].is_boolean() &&
                              j["attention_bias"].get<bool>();
  c.attention_qkv_bias = attention_bias;
  c.attention_out_bias = attention_bias;
  c.mlp_bias = j.contains("mlp_bias") && j["mlp_bias"].is_boolean() && j["mlp_bias"].get<bool>();
}

}  // namespace

const ArchSpec kLlamaArch = {"LlamaForCausalLM", configure_llama, hf_llama_model_names, hf_llama_layer_names};

}  // namespace serval
