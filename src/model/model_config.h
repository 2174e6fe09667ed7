// ModelConfig: one flat struct holding everything the decoder needs from a Hugging Face config.json.
// Family differences (Qwen2 biases, Llama-3 RoPE scaling, Phi-3 longrope, Gemma-2 norms and soft-caps,
// Phi-2's LayerNorm and parallel block) are fields here, so the shared decoder reads flags instead of
// growing per-family code paths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace serval {

enum class NormKind { RmsNorm, LayerNorm };          // LayerNorm (with bias): Phi2
enum class ActivationKind { Silu, GeluTanh, Gelu };  // silu; gelu_pytorch_tanh / gelu_new; gelu (erf)
enum class RopeScalingKind { None, Linear, Dynamic, Llama3, LongRope };

struct ModelConfig {
  // --- identity ---
  std::string architecture;  // HF architectures[0], e.g. "Qwen2ForCausalLM"
  std::string model_type;    // HF model_type, e.g. "qwen2", "llama"
  std::string torch_dtype;   // dtype the checkpoint was saved in ("bfloat16", "float32", ...; "" if absent)

  // --- shapes ---
  int hidden_size = 0;              // width of the residual stream
  int intermediate_size = 0;        // width of the MLP's hidden layer
  int num_hidden_layers = 0;        // decoder blocks
  int num_attention_heads = 0;      // query heads
  int num_key_value_heads = 0;      // key/value heads (GQA when < num_attention_heads, MQA when 1)
  int head_dim = 0;                 // per-head width: explicit head_dim, else hidden_size / num_attention_heads
  int64_t vocab_size = 0;           // rows of the embedding and the lm_head
  int max_position_embeddings = 0;  // longest context the model was trained for

  // --- positions (RoPE, rotate-half style) ---
  double rope_theta = 10000.0;                      // RoPE base
  RopeScalingKind rope_scaling = RopeScalingKind::None;  // rope_scaling.rope_type (or .type)
  double rope_factor = 1.0;                         // rope_scaling.factor (linear, dynamic, llama3)
  double rope_low_freq_factor = 1.0;                // llama3: rope_scaling.low_freq_factor
  double rope_high_freq_factor = 4.0;               // llama3: rope_scaling.high_freq_factor
  int rope_original_max_position = 0;               // llama3/dynamic/longrope: original_max_position_embeddings
  std::vector<double> rope_short_factor;            // longrope: [rotary_dim / 2], sequences <= original max
  std::vector<double> rope_long_factor;             // longrope: [rotary_dim / 2], longer sequences
  double rope_attention_factor = 1.0;               // longrope: cos/sin multiplier (sqrt(1 + ln s / ln orig))
  double partial_rotary_factor = 1.0;               // fraction of head_dim that is rotated (Phi2: 0.4)

  // --- normalization ---
  NormKind norm_kind = NormKind::RmsNorm;  // RMSNorm (Llama, Qwen2) or LayerNorm with bias (Phi2)
  double norm_eps = 1e-6;                  // rms_norm_eps / layer_norm_eps
  bool norm_weight_plus_one = false;       // Gemma: norms apply (1 + w)
  bool post_attention_norms = false;       // Gemma2: extra norms after attention and after the MLP
  bool parallel_block = false;             // Phi2: attention and MLP both read the same input norm

  // --- attention ---
  bool attention_qkv_bias = false;         // q/k/v projections have biases (Qwen2 always; Llama attention_bias)
  bool attention_out_bias = false;         // o_proj has a bias (Llama attention_bias)
  float attn_logit_softcap = 0.0f;         // Gemma2: tanh soft-cap on attention scores (0 = off)
  double query_scale = 0.0;                // score scale; 0 = 1/sqrt(head_dim) (Gemma2: query_pre_attn_scalar)
  std::vector<int> sliding_window;         // [num_hidden_layers] window per layer, 0 = full attention

  // --- MLP ---
  ActivationKind hidden_act = ActivationKind::Silu;  // MLP activation (hidden_act / Gemma's hidden_activation)
  bool gated_mlp = true;                              // down(act(gate) * up); false: fc2(act(fc1)) (Phi2)
  bool mlp_bias = false;                              // MLP projections have biases (Llama mlp_bias, Phi2)

  // --- embeddings and head ---
  bool tie_word_embeddings = false;   // lm_head reuses embed_tokens
  float embedding_scale = 1.0f;       // Gemma: sqrt(hidden_size)
  float final_logit_softcap = 0.0f;   // Gemma2: tanh soft-cap on logits (0 = off)
  bool lm_head_bias = false;          // Phi2: lm_head has a bias

  // --- special tokens ---
  int64_t bos_token_id = -1;             // -1 when absent
  std::vector<int64_t> eos_token_ids;    // config.json's eos_token_id (int or list)

  int rotary_dim() const { return static_cast<int>(head_dim * partial_rotary_factor) / 2 * 2; }
  int num_queries_per_kv() const { return num_attention_heads / num_key_value_heads; }
  // The window when EVERY layer slides over the same window (Phi-3, Mistral), else 0: what
  // KvCacheConfig::sliding_window may be set to (blocks out of it are released).
  int uniform_sliding_window() const {
    if (sliding_window.empty()) return 0;
    for (int w : sliding_window)
      if (w <= 0 || w != sliding_window.front()) return 0;
    return sliding_window.front();
  }
};

// Maps an HF activation name (hidden_act / hidden_activation) to the kernels serval has. Throws
// serval::Error naming it and the supported ones. `what` names the key in the message.
ActivationKind parse_activation(const std::string& name, const std::string& what);

// Reads dir/config.json. Throws serval::Error naming the path when missing or malformed, naming the key
// when a required key is absent or has a bad value, and naming the architecture (with the supported
// list) when it is not one serval implements.
ModelConfig load_model_config(const std::string& model_dir);
// Same, from an already parsed JSON object; `source` names it in messages.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source);

}  // namespace serval
