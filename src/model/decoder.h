// The shared pre-norm transformer decoder (Llama / Qwen2 shape; other families switch on ModelConfig
// flags): weights of every layer and the batched forward step over a paged KV cache.
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
  std::vector<float> attn_norm;  // [hidden] input_layernorm
  cpu::Linear q_proj;            // [heads * head_dim, hidden] (+ bias)
  cpu::Linear k_proj;            // [kv_heads * head_dim, hidden] (+ bias)
  cpu::Linear v_proj;            // [kv_heads * head_dim, hidden] (+ bias)
  cpu::Linear o_proj;            // [hidden, heads * head_dim]
  std::vector<float> mlp_norm;   // [hidden] post_attention_layernorm
  cpu::Linear gate_proj;         // [intermediate, hidden]
  cpu::Linear up_proj;           // [intermediate, hidden]
  cpu::Linear down_proj;         // [hidden, intermediate]
};

struct DecoderWeights {
  const void* embed = nullptr;   // [vocab, hidden] in embed_dtype (mmap or owned)
  DType embed_dtype = DType::F32;
  std::vector<float> final_norm;  // [hidden]
  cpu::Linear lm_head;            // [vocab, hidden]; the embedding matrix itself when tied
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

  const ModelConfig& c_;
  DecoderWeights w_;
  std::vector<double> inv_freq_;  // [rotary_dim / 2]
  TensorCallback callback_;
  // Scratch reused across steps (grown, never shrunk).
  std::vector<float> x_, cur_, q_, k_, v_, attn_, proj_, gate_, up_, cos_, sin_, rows_;
};

}  // namespace serval
