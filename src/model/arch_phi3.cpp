// Phi3ForCausalLM (Phi-3-mini/medium, Phi-3.5-mini): Llama-shaped with fused self_attn.qkv_proj ([q; k; v]
// rows) and mlp.gate_up_proj ([gate; up] rows), split into the decoder's projections at load (row views,
// no copy); sliding-window attention on every layer when sliding_window is set (transformers applies it
// to all layers); longrope scaling is parsed by the common config code.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/arch_registry.h"

namespace serval {

namespace {

void configure_phi3(const nlohmann::json& j, const std::string& source, ModelConfig& c) {
  c.attention_qkv_bias = false;
  c.attention_out_bias = false;
  c.mlp_bias = false;
  if (!j.contains("sliding_window") || j["sliding_window"].is_null()) return;
  check(j["sliding_window"].is_number_integer() && j["sliding_window"].get<int64_t>() > 0,
        source + ": 'sliding_window' must be a positive integer or null, got " + j["sliding_window"].dump());
  c.sliding_window.assign(static_cast<size_t>(c.num_hidden_layers), j["sliding_window"].get<int>());
}

LayerTensorNames phi3_layer_names(int layer) {
  LayerTensorNames n = hf_llama_layer_names(layer);
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  n.q_proj = n.k_proj = n.v_proj = "";
  n.gate_proj = n.up_proj = "";
  n.qkv_proj = p + "self_attn.qkv_proj.weight";
  n.gate_up_proj = p + "mlp.gate_up_proj.weight";
  return n;
}

}  // namespace

const ArchSpec kPhi3Arch = {"Phi3ForCausalLM", configure_phi3, hf_llama_model_names, phi3_layer_names};

}  // namespace serval
