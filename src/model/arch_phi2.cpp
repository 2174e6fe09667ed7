// PhiForCausalLM (phi-1.5, phi-2): LayerNorm with bias, parallel block (attention and MLP both read the
// one input_layernorm output and are added to the residual together), partial rotary
// (partial_rotary_factor), plain fc1 -> gelu_new -> fc2 MLP, biases on every projection and on lm_head.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/arch_registry.h"

namespace serval {

namespace {

using nlohmann::json;

void configure_phi(const json& j, const std::string& source, ModelConfig& c) {
  c.norm_kind = NormKind::LayerNorm;
  c.norm_eps = 1e-5;
  if (j.contains("layer_norm_eps") && !j["layer_norm_eps"].is_null()) {
    check(j["layer_norm_eps"].is_number(), source + ": 'layer_norm_eps' must be a number");
    c.norm_eps = j["layer_norm_eps"].get<double>();
  }
  c.parallel_block = true;
  c.gated_mlp = false;
  c.mlp_bias = true;
  c.attention_qkv_bias = true;
  c.attention_out_bias = true;
  c.lm_head_bias = true;
  if (!j.contains("hidden_act")) c.hidden_act = ActivationKind::GeluTanh;  // PhiConfig's default gelu_new
  check(!(j.contains("qk_layernorm") && j["qk_layernorm"].is_boolean() && j["qk_layernorm"].get<bool>()),
        source + ": 'qk_layernorm' true is not supported (supported: false, as in phi-1.5 and phi-2)");
}

ModelTensorNames phi_model_names() {
  return {"model.embed_tokens.weight", "model.final_layernorm.weight", "lm_head.weight"};
}

LayerTensorNames phi_layer_names(int layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  LayerTensorNames n;
  n.attn_norm = p + "input_layernorm.weight";
  n.q_proj = p + "self_attn.q_proj.weight";
  n.k_proj = p + "self_attn.k_proj.weight";
  n.v_proj = p + "self_attn.v_proj.weight";
  n.o_proj = p + "self_attn.dense.weight";
  n.up_proj = p + "mlp.fc1.weight";
  n.down_proj = p + "mlp.fc2.weight";
  return n;
}

}  // namespace

const ArchSpec kPhiArch = {"PhiForCausalLM", configure_phi, phi_model_names, phi_layer_names};

}  // namespace serval
