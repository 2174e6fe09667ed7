// The shared pre-norm transformer decoder (Llama / Qwen2 shape; Phi-3, Gemma-2 and Phi-2 switch on
// ModelConfig flags): weights of every layer and the batched forward step over a paged KV cache.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/rope.h"
#include "kv/kv_cache.h"
#include "model/model_config.h"
#include "model/model_inputs.h"

namespace serval {

struct DecoderLayerWeights {
  std::vector<float> attn_norm;       // [hidden] input_layernorm
  std::vector<float> attn_norm_bias;  // [hidden] LayerNorm bias (Phi2); empty for RMSNorm
  cpu::Linear q_proj;                 // [heads * head_dim, hidden] (+ bias)
  cpu::Linear k_proj;                 // [kv_heads * head_dim, hidden] (+ bias)
  cpu::Linear v_proj;                 // [kv_heads * head_dim, hidden] (+ bias)
  cpu::Linear o_proj;                 // [hidden, heads * head_dim] (+ bias)
  std::vector<float> post_attn_norm;  // [hidden] Gemma2 post_attention_layernorm; empty otherwise
  std::vector<float> mlp_norm;        // [hidden] pre-MLP norm; empty with a parallel block (Phi2)
  std::vector<float> mlp_norm_bias;   // [hidden] LayerNorm bias; empty for RMSNorm
  cpu::Linear gate_proj;              // [intermediate, hidden]; unset when the MLP is not gated (Phi2)
  cpu::Linear up_proj;                // [intermediate, hidden] (Phi2: fc1)
  cpu::Linear down_proj;              // [hidden, intermediate] (Phi2: fc2)
  std::vector<float> post_mlp_norm;   // [hidden] Gemma2 post_feedforward_layernorm; empty otherwise
};

struct DecoderWeights {
  const void* embed = nullptr;   // [vocab, hidden] in embed_dtype (mmap or owned)
  DType embed_dtype = DType::F32;
  std::vector<float> final_norm;       // [hidden]
  std::vector<float> final_norm_bias;  // [hidden] LayerNorm bias (Phi2); empty for RMSNorm
  cpu::Linear lm_head;                 // [vocab, hidden] (+ bias, Phi2); the embedding matrix itself when tied
  std::vector<DecoderLayerWeights> layers;
};

// Called with every named intermediate (llama.cpp's cb(cur, name, il)) when set; layer -1 = outside layers.
// data is [rows, cols] float32, valid only during the call.
using TensorCallback = std::function<void(const char* name, int layer, const float* data, int64_t rows,
                                          int64_t cols)>;

class Decoder {
 public:
  // PRECONDITION: weights match config (checked by the loader).
  Decoder(const ModelConfig& config, DecoderWeights weights);

  const DecoderWeights& weights() const { return w_; }

  // One batched step (see model_inputs.h). PRECONDITION: inputs validated against kv by the caller.
  void forward(const ModelInputs& in, KvCache& kv, ModelOutput& out);

  void set_callback(TensorCallback cb) { callback_ = std::move(cb); }

 private:
  void emit(const char* name, int layer, const std::vector<float>& t, int64_t rows, int64_t cols) const;
  // y = norm(x) over `rows` rows of width hidden, RMSNorm or LayerNorm as the config says.
  void norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, int64_t rows, float* y) const;
  // RoPE cos/sin for every token of the step (per sequence: longrope picks short or long factors).
  void rope_tables(const ModelInputs& in);
  // out [T, hidden] = MLP(cur_ [T, hidden]) of layer L (index `layer`).
  void mlp(const DecoderLayerWeights& L, int layer, int64_t T, float* out);

  const ModelConfig& c_;
  DecoderWeights w_;
  std::vector<double> inv_freq_;       // [rotary_dim / 2] (longrope: the short factors)
  std::vector<double> inv_freq_long_;  // [rotary_dim / 2] longrope's long factors; empty otherwise
  float embed_scale_ = 1.0f;           // embedding multiplier rounded to the weights' dtype, as HF does
  TensorCallback callback_;
  // Scratch reused across steps (grown, never shrunk).
  std::vector<float> x_, cur_, q_, k_, v_, attn_, proj_, mlp_out_, gate_, up_, cos_, sin_, rows_;
};

}  // namespace serval
