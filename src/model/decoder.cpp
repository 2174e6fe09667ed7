// The decoder step: embed (x scale) -> for each layer [norm -> q/k/v -> RoPE -> KV write -> paged attention
// -> o_proj (-> post-norm) -> residual -> norm -> MLP (-> post-norm) -> residual; or, with a parallel block,
// residual + attention + MLP of the same normed input] -> final norm on the logit rows -> lm_head
// (-> soft-cap). Every weight multiply is one Linear::forward over all tokens of the step.
#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/rmsnorm.h"

namespace serval {

namespace {

cpu::RopeParams rope_params(const ModelConfig& c, bool long_factors) {
  cpu::RopeParams p;
  p.rotary_dim = c.rotary_dim();
  p.theta = c.rope_theta;
  p.factor = c.rope_factor;
  p.low_freq_factor = c.rope_low_freq_factor;
  p.high_freq_factor = c.rope_high_freq_factor;
  p.original_max_position = c.rope_original_max_position;
  switch (c.rope_scaling) {
    case RopeScalingKind::None: p.scaling = cpu::RopeScaling::None; break;
    case RopeScalingKind::Linear: p.scaling = cpu::RopeScaling::Linear; break;
    case RopeScalingKind::Dynamic: p.scaling = cpu::RopeScaling::Dynamic; break;
    case RopeScalingKind::Llama3: p.scaling = cpu::RopeScaling::Llama3; break;
    case RopeScalingKind::LongRope:
      p.scaling = cpu::RopeScaling::LongRope;
      p.ext_factors = long_factors ? c.rope_long_factor : c.rope_short_factor;
      break;
  }
  return p;
}

void grow(std::vector<float>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}

void add_into(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

// HF multiplies the embeddings by torch.tensor(scale, dtype=weights' dtype): round the scale the same way.
float round_to_dtype(float v, DType dtype) {
  if (dtype == DType::F32) return v;
  uint8_t buf[4];
  float out = 0;
  convert_from_f32(dtype, &v, buf, 1);
  convert_to_f32(dtype, buf, &out, 1);
  return out;
}

}  // namespace

Decoder::Decoder(const ModelConfig& config, DecoderWeights weights)
    : c_(config),
      w_(std::move(weights)),
      inv_freq_(cpu::rope_inv_freq(rope_params(config, false))),
      embed_scale_(round_to_dtype(config.embedding_scale, w_.embed_dtype)) {
  if (config.rope_scaling == RopeScalingKind::LongRope) inv_freq_long_ = cpu::rope_inv_freq(rope_params(config, true));
}

void Decoder::emit(const char* name, int layer, const std::vector<float>& t, int64_t rows, int64_t cols) const {
  if (callback_) callback_(name, layer, t.data(), rows, cols);
}

void Decoder::norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, int64_t rows,
                   float* y) const {
  const float eps = static_cast<float>(c_.norm_eps);
  if (c_.norm_kind == NormKind::LayerNorm) {
    cpu::layer_norm(x, w.data(), b.empty() ? nullptr : b.data(), rows, c_.hidden_size, eps, y);
  } else {
    cpu::rms_norm(x, w.data(), rows, c_.hidden_size, eps, y, c_.norm_weight_plus_one);
  }
}

void Decoder::rope_tables(const ModelInputs& in) {
  const int64_t half = c_.rotary_dim() / 2;
  for (const SeqSlice& s : in.seqs) {
    const int32_t* pos = in.positions.data() + s.token_begin;
    float* cs = cos_.data() + s.token_begin * half;
    float* sn = sin_.data() + s.token_begin * half;
    if (inv_freq_long_.empty()) {
      cpu::rope_cos_sin(inv_freq_, pos, s.num_tokens, cs, sn);
      continue;
    }
    // NOTE: transformers' longrope switches to the long factors once the sequence is longer than
    // original_max_position_embeddings (keys already cached keep their rotation); the choice here is per
    // sequence from its length after this step, so a batch's other sequences never change it.
    const bool use_long = int64_t{s.num_computed} + s.num_tokens > c_.rope_original_max_position;
    cpu::rope_cos_sin(use_long ? inv_freq_long_ : inv_freq_, pos, s.num_tokens, cs, sn, c_.rope_attention_factor);
  }
}

void Decoder::mlp(const DecoderLayerWeights& L, int layer, int64_t T, float* out) {
  const int64_t I = c_.intermediate_size;
  ThreadPool& pool = global_thread_pool();
  if (c_.gated_mlp) {
    L.gate_proj.forward(cur_.data(), T, gate_.data(), pool);
    L.up_proj.forward(cur_.data(), T, up_.data(), pool);
  } else {
    L.up_proj.forward(cur_.data(), T, gate_.data(), pool);  // fc1
  }
  // The activation is elementwise: split it over the pool (a prefill's T * I is tens of millions of exp/tanh).
  constexpr int64_t kChunk = 16384;
  const int64_t n = T * I;
  pool.parallel_for((n + kChunk - 1) / kChunk, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, len = std::min(n, c1 * kChunk) - b;
    float* g = gate_.data() + b;
    if (c_.gated_mlp) {
      const float* u = up_.data() + b;
      switch (c_.hidden_act) {
        case ActivationKind::Silu: cpu::silu_mul(g, u, len, g); break;
        case ActivationKind::GeluTanh: cpu::gelu_tanh_mul(g, u, len, g); break;
        case ActivationKind::Gelu: cpu::gelu_mul(g, u, len, g); break;
      }
    } else {
      switch (c_.hidden_act) {
        case ActivationKind::Silu: cpu::silu(g, len, g); break;
        case ActivationKind::GeluTanh: cpu::gelu_tanh(g, len, g); break;
        case ActivationKind::Gelu: cpu::gelu(g, len, g); break;
      }
    }
  });
  emit("ffn_act", layer, gate_, T, I);
  L.down_proj.forward(gate_.data(), T, out, pool);
}

void Decoder::forward(const ModelInputs& in, KvCache& kv, ModelOutput& out) {
  const int64_t T = static_cast<int64_t>(in.token_ids.size());
  const int64_t H = c_.hidden_size;
  const int hd = c_.head_dim;
  const int64_t q_width = static_cast<int64_t>(c_.num_attention_heads) * hd;
  const int64_t kv_width = static_cast<int64_t>(c_.num_key_value_heads) * hd;
  const int64_t I = c_.intermediate_size;
  const int rot = c_.rotary_dim();
  ThreadPool& pool = global_thread_pool();

  grow(x_, T * H);
  grow(cur_, T * H);
  grow(q_, T * q_width);
  grow(attn_, T * q_width);
  grow(k_, T * kv_width);
  grow(v_, T * kv_width);
  grow(proj_, T * H);
  if (c_.parallel_block) grow(mlp_out_, T * H);
  grow(gate_, T * I);
  if (c_.gated_mlp) grow(up_, T * I);
  grow(cos_, T * rot / 2);
  grow(sin_, T * rot / 2);

  // inp_embd: [T, H]
  const size_t es = dtype_size(w_.embed_dtype);
  for (int64_t t = 0; t < T; ++t) {
    const auto* row = static_cast<const uint8_t*>(w_.embed) + static_cast<size_t>(in.token_ids[t]) * H * es;
    convert_to_f32(w_.embed_dtype, row, x_.data() + t * H, static_cast<size_t>(H));
  }
  if (embed_scale_ != 1.0f)
    for (int64_t i = 0; i < T * H; ++i) x_[i] *= embed_scale_;
  emit("inp_embd", -1, x_, T, H);

  rope_tables(in);

  std::vector<cpu::AttentionSeq> seqs;
  seqs.reserve(in.seqs.size());
  for (const SeqSlice& s : in.seqs) seqs.push_back({s.token_begin, s.num_tokens, s.num_computed, s.block_table.data()});

  const KvCacheShape& ks = kv.shape();
  for (int l = 0; l < c_.num_hidden_layers; ++l) {
    const DecoderLayerWeights& L = w_.layers[static_cast<size_t>(l)];
    norm(x_.data(), L.attn_norm, L.attn_norm_bias, T, cur_.data());
    emit("attn_norm", l, cur_, T, H);

    L.q_proj.forward(cur_.data(), T, q_.data(), pool);  // Qcur [T, heads, hd]
    L.k_proj.forward(cur_.data(), T, k_.data(), pool);  // Kcur [T, kv_heads, hd]
    L.v_proj.forward(cur_.data(), T, v_.data(), pool);  // Vcur [T, kv_heads, hd]
    cpu::apply_rope(q_.data(), T, c_.num_attention_heads, hd, rot, cos_.data(), sin_.data());
    cpu::apply_rope(k_.data(), T, c_.num_key_value_heads, hd, rot, cos_.data(), sin_.data());
    emit("Qcur", l, q_, T, q_width);
    emit("Kcur", l, k_, T, kv_width);
    emit("Vcur", l, v_, T, kv_width);

    cpu::PagedKvLayer layer{kv.key_block(l, 0), kv.value_block(l, 0), ks.num_blocks, ks.block_size,
                            ks.num_kv_heads,    ks.head_dim,         ks.dtype};
    cpu::write_kv(layer, seqs.data(), static_cast<int>(seqs.size()), k_.data(), v_.data());
    cpu::AttentionParams ap;
    ap.num_heads = c_.num_attention_heads;
    ap.scale = static_cast<float>(c_.query_scale > 0 ? 1.0 / std::sqrt(c_.query_scale) : 1.0 / std::sqrt(hd));
    ap.softcap = c_.attn_logit_softcap;
    ap.sliding_window = c_.sliding_window[static_cast<size_t>(l)];
    cpu::paged_attention(layer, seqs.data(), static_cast<int>(seqs.size()), ap, q_.data(), attn_.data(), pool);
    emit("kqv_out", l, attn_, T, q_width);

    L.o_proj.forward(attn_.data(), T, proj_.data(), pool);
    if (!L.post_attn_norm.empty()) cpu::rms_norm(proj_.data(), L.post_attn_norm.data(), T, H,
                                                 static_cast<float>(c_.norm_eps), proj_.data(), c_.norm_weight_plus_one);
    emit("attn_out", l, proj_, T, H);

    if (c_.parallel_block) {
      // Phi2: x = x + attn(norm(x)) + mlp(norm(x)), both branches read the same normed input (cur_).
      mlp(L, l, T, mlp_out_.data());
      emit("ffn_out", l, mlp_out_, T, H);
      for (int64_t i = 0; i < T * H; ++i) x_[i] += proj_[i] + mlp_out_[i];
      emit("l_out", l, x_, T, H);
      continue;
    }
    add_into(x_.data(), proj_.data(), T * H);
    emit("ffn_inp", l, x_, T, H);

    norm(x_.data(), L.mlp_norm, L.mlp_norm_bias, T, cur_.data());
    emit("ffn_norm", l, cur_, T, H);
    mlp(L, l, T, proj_.data());
    if (!L.post_mlp_norm.empty()) cpu::rms_norm(proj_.data(), L.post_mlp_norm.data(), T, H,
                                                static_cast<float>(c_.norm_eps), proj_.data(), c_.norm_weight_plus_one);
    emit("ffn_out", l, proj_, T, H);
    add_into(x_.data(), proj_.data(), T * H);
    emit("l_out", l, x_, T, H);
  }

  // Only the rows that need logits go through the final norm and the lm_head.
  const int64_t R = static_cast<int64_t>(in.logit_rows.size());
  grow(rows_, R * H);
  for (int64_t r = 0; r < R; ++r)
    std::memcpy(rows_.data() + r * H, x_.data() + static_cast<int64_t>(in.logit_rows[r]) * H, H * sizeof(float));
  norm(rows_.data(), w_.final_norm, w_.final_norm_bias, R, rows_.data());
  emit("result_norm", -1, rows_, R, H);
  out.vocab_size = c_.vocab_size;
  out.logits.resize(static_cast<size_t>(R * c_.vocab_size));
  if (R > 0) w_.lm_head.forward(rows_.data(), R, out.logits.data(), pool);
  if (c_.final_logit_softcap > 0)
    for (float& v : out.logits) v = c_.final_logit_softcap * std::tanh(v / c_.final_logit_softcap);
}

}  // namespace serval
