// The decoder step: embed -> for each layer [RMSNorm -> q/k/v -> RoPE -> KV write -> paged attention ->
// o_proj -> residual -> RMSNorm -> SwiGLU MLP -> residual] -> final norm on the logit rows -> lm_head.
// Every weight multiply is one Linear::forward over all tokens of the step.
#include "model/decoder.h"

#include <cmath>
#include <cstring>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/rmsnorm.h"

namespace serval {

namespace {

cpu::RopeParams rope_params(const ModelConfig& c) {
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
  }
  return p;
}

void grow(std::vector<float>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}

void add_into(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

Decoder::Decoder(const ModelConfig& config, DecoderWeights weights)
    : c_(config), w_(std::move(weights)), inv_freq_(cpu::rope_inv_freq(rope_params(config))) {}

void Decoder::emit(const char* name, int layer, const std::vector<float>& t, int64_t rows, int64_t cols) const {
  if (callback_) callback_(name, layer, t.data(), rows, cols);
}

void Decoder::forward(const ModelInputs& in, KvCache& kv, ModelOutput& out) {
  const int64_t T = static_cast<int64_t>(in.token_ids.size());
  const int64_t H = c_.hidden_size;
  const int hd = c_.head_dim;
  const int64_t q_width = static_cast<int64_t>(c_.num_attention_heads) * hd;
  const int64_t kv_width = static_cast<int64_t>(c_.num_key_value_heads) * hd;
  const int64_t I = c_.intermediate_size;
  const float eps = static_cast<float>(c_.norm_eps);
  const int rot = c_.rotary_dim();
  ThreadPool& pool = global_thread_pool();

  grow(x_, T * H);
  grow(cur_, T * H);
  grow(q_, T * q_width);
  grow(attn_, T * q_width);
  grow(k_, T * kv_width);
  grow(v_, T * kv_width);
  grow(proj_, T * H);
  grow(gate_, T * I);
  grow(up_, T * I);
  grow(cos_, T * rot / 2);
  grow(sin_, T * rot / 2);

  // inp_embd: [T, H]
  const size_t es = dtype_size(w_.embed_dtype);
  for (int64_t t = 0; t < T; ++t) {
    const auto* row = static_cast<const uint8_t*>(w_.embed) + static_cast<size_t>(in.token_ids[t]) * H * es;
    convert_to_f32(w_.embed_dtype, row, x_.data() + t * H, static_cast<size_t>(H));
  }
  if (c_.embedding_scale != 1.0f)
    for (int64_t i = 0; i < T * H; ++i) x_[i] *= c_.embedding_scale;
  emit("inp_embd", -1, x_, T, H);

  cpu::rope_cos_sin(inv_freq_, in.positions.data(), T, cos_.data(), sin_.data());

  std::vector<cpu::AttentionSeq> seqs;
  seqs.reserve(in.seqs.size());
  for (const SeqSlice& s : in.seqs) seqs.push_back({s.token_begin, s.num_tokens, s.num_computed, s.block_table.data()});

  const KvCacheShape& ks = kv.shape();
  for (int l = 0; l < c_.num_hidden_layers; ++l) {
    const DecoderLayerWeights& L = w_.layers[static_cast<size_t>(l)];
    cpu::rms_norm(x_.data(), L.attn_norm.data(), T, H, eps, cur_.data(), c_.norm_weight_plus_one);
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
    emit("attn_out", l, proj_, T, H);
    add_into(x_.data(), proj_.data(), T * H);
    emit("ffn_inp", l, x_, T, H);

    cpu::rms_norm(x_.data(), L.mlp_norm.data(), T, H, eps, cur_.data(), c_.norm_weight_plus_one);
    emit("ffn_norm", l, cur_, T, H);
    L.gate_proj.forward(cur_.data(), T, gate_.data(), pool);
    L.up_proj.forward(cur_.data(), T, up_.data(), pool);
    cpu::silu_mul(gate_.data(), up_.data(), T * I, gate_.data());
    emit("ffn_act", l, gate_, T, I);
    L.down_proj.forward(gate_.data(), T, proj_.data(), pool);
    emit("ffn_out", l, proj_, T, H);
    add_into(x_.data(), proj_.data(), T * H);
    emit("l_out", l, x_, T, H);
  }

  // Only the rows that need logits go through the final norm and the lm_head.
  const int64_t R = static_cast<int64_t>(in.logit_rows.size());
  grow(rows_, R * H);
  for (int64_t r = 0; r < R; ++r)
    std::memcpy(rows_.data() + r * H, x_.data() + static_cast<int64_t>(in.logit_rows[r]) * H, H * sizeof(float));
  cpu::rms_norm(rows_.data(), w_.final_norm.data(), R, H, eps, rows_.data(), c_.norm_weight_plus_one);
  emit("result_norm", -1, rows_, R, H);
  out.vocab_size = c_.vocab_size;
  out.logits.resize(static_cast<size_t>(R * c_.vocab_size));
  if (R > 0) w_.lm_head.forward(rows_.data(), R, out.logits.data(), pool);
  if (c_.final_logit_softcap > 0)
    for (float& v : out.logits) v = c_.final_logit_softcap * std::tanh(v / c_.final_logit_softcap);
}

}  // namespace serval
