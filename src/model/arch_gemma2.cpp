// Gemma2ForCausalLM (gemma-2-2b/9b/27b): RMSNorm with (1 + w), embeddings x sqrt(hidden), GeGLU (tanh GELU),
// extra norms after attention and after the MLP (pre_feedforward_layernorm is the pre-MLP norm),
// scores scaled by query_pre_attn_scalar^-0.5 and soft-capped, final logits soft-capped, sliding window
// on the layers layer_types marks (default: even layers 0, 2, ... slide, odd ones are global), head_dim
// independent of hidden_size, tied embeddings by default.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/arch_registry.h"

namespace serval {

namespace {

using nlohmann::json;

double number_or(const json& j, const std::string& key, double fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_number(), source + ": '" + key + "' must be a number or null, got " + j[key].dump());
  return j[key].get<double>();
}

void configure_gemma2(const json& j, const std::string& source, ModelConfig& c) {
  c.norm_weight_plus_one = true;
  c.post_attention_norms = true;
  c.embedding_scale = static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size)));
  // Gemma2Config reads hidden_activation (default gelu_pytorch_tanh); hidden_act is a legacy key it ignores.
  std::string act = "gelu_pytorch_tanh";
  if (j.contains("hidden_activation") && j["hidden_activation"].is_string())
    act = j["hidden_activation"].get<std::string>();
  c.hidden_act = parse_activation(act, source + ": hidden_activation");
  c.tie_word_embeddings = !j.contains("tie_word_embeddings") || !j["tie_word_embeddings"].is_boolean() ||
                          j["tie_word_embeddings"].get<bool>();
  const bool bias = j.contains("attention_bias") && j["attention_bias"].is_boolean() && j["attention_bias"].get<bool>();
  c.attention_qkv_bias = bias;
  c.attention_out_bias = bias;
  c.query_scale = number_or(j, "query_pre_attn_scalar", 256.0, source);
  check(c.query_scale > 0, source + ": 'query_pre_attn_scalar' must be positive");
  c.attn_logit_softcap = static_cast<float>(number_or(j, "attn_logit_softcapping", 0.0, source));
  c.final_logit_softcap = static_cast<float>(number_or(j, "final_logit_softcapping", 0.0, source));
  check(c.attn_logit_softcap >= 0 && c.final_logit_softcap >= 0, source + ": soft-capping values must not be negative");

  if (!j.contains("sliding_window") || j["sliding_window"].is_null()) return;
  check(j["sliding_window"].is_number_integer() && j["sliding_window"].get<int64_t>() > 0,
        source + ": 'sliding_window' must be a positive integer or null, got " + j["sliding_window"].dump());
  const int window = j["sliding_window"].get<int>();
  const size_t L = static_cast<size_t>(c.num_hidden_layers);
  if (j.contains("layer_types") && !j["layer_types"].is_null()) {
    const json& lt = j["layer_types"];
    check(lt.is_array() && lt.size() == L, source + ": 'layer_types' must list one type per layer");
    for (size_t l = 0; l < L; ++l) {
      const std::string t = lt[l].is_string() ? lt[l].get<std::string>() : lt[l].dump();
      check(t == "sliding_attention" || t == "full_attention",
            source + ": layer_types entry '" + t + "' is not supported (supported: sliding_attention, full_attention)");
      c.sliding_window[l] = t == "sliding_attention" ? window : 0;
    }
    return;
  }
  for (size_t l = 0; l < L; l += 2) c.sliding_window[l] = window;  // transformers: (i + 1) % 2 -> sliding
}

LayerTensorNames gemma2_layer_names(int layer) {
  LayerTensorNames n = hf_llama_layer_names(layer);
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  n.post_attn_norm = p + "post_attention_layernorm.weight";
  n.mlp_norm = p + "pre_feedforward_layernorm.weight";
  n.post_mlp_norm = p + "post_feedforward_layernorm.weight";
  return n;
}

}  // namespace

const ArchSpec kGemma2Arch = {"Gemma2ForCausalLM", configure_gemma2, hf_llama_model_names, gemma2_layer_names};

}  // namespace serval
