// Model loading (dtype resolution, tensor lookup with shape checks, conversion) and step validation.
#include "model/model.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "model/arch_registry.h"

namespace serval {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Looks tensors up, checks their shapes, and hands out views in the target dtype.
class WeightLoader {
 public:
  WeightLoader(const SafetensorsCheckpoint& ck, DType target, std::vector<std::vector<uint8_t>>& owned)
      : ck_(ck), target_(target), owned_(owned) {}

  const TensorView& tensor(const std::string& name, const std::vector<int64_t>& shape) const {
    const TensorView& t = ck_.get(name);
    check(t.shape == shape, "tensor '" + name + "' in " + t.source + " has shape " + shape_str(t.shape) +
                                " but the config needs " + shape_str(shape));
    (void)t.dtype();  // throws on integer / fp8 tensors
    return t;
  }

  // A [rows, cols] matrix in the target dtype: the mmap itself when dtypes match, else a converted copy.
  cpu::WeightView matrix(const std::string& name, int64_t rows, int64_t cols) {
    const TensorView& t = tensor(name, {rows, cols});
    bytes_ += static_cast<size_t>(rows * cols) * dtype_size(target_);
    params_ += rows * cols;
    return {target_, rows, cols, convert(t)};
  }

  std::vector<float> vector_f32(const std::string& name, int64_t n) {
    const TensorView& t = tensor(name, {n});
    std::vector<float> v(static_cast<size_t>(n));
    convert_to_f32(t.dtype(), t.data, v.data(), v.size());
    bytes_ += static_cast<size_t>(n) * dtype_size(target_);
    params_ += n;
    return v;
  }

  size_t bytes() const { return bytes_; }
  int64_t params() const { return params_; }
  // A matrix counted at its checkpoint size by matrix() is held as `held` bytes instead (quantized).
  void recount(size_t counted, size_t held) { bytes_ = bytes_ - counted + held; }

 private:
  const void* convert(const TensorView& t) {
    const DType from = t.dtype();
    if (from == target_) return t.data;
    const size_t n = static_cast<size_t>(t.numel());
    std::vector<uint8_t> buf(n * dtype_size(target_));
    constexpr size_t kChunk = size_t{1} << 16;
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
    global_thread_pool().parallel_for(chunks, [&](int64_t c0, int64_t c1) {
      std::vector<float> tmp(kChunk);
      for (int64_t c = c0; c < c1; ++c) {
        const size_t begin = static_cast<size_t>(c) * kChunk, len = std::min(kChunk, n - begin);
        convert_to_f32(from, t.data + begin * dtype_size(from), tmp.data(), len);
        convert_from_f32(target_, tmp.data(), buf.data() + begin * dtype_size(target_), len);
      }
    });
    owned_.push_back(std::move(buf));
    return owned_.back().data();
  }

  const SafetensorsCheckpoint& ck_;
  DType target_;
  std::vector<std::vector<uint8_t>>& owned_;
  size_t bytes_ = 0;
  int64_t params_ = 0;
};

std::string bias_name(const std::string& weight_name) {
  const std::string suffix = ".weight";
  if (weight_name.size() > suffix.size() && weight_name.ends_with(suffix))
    return weight_name.substr(0, weight_name.size() - suffix.size()) + ".bias";
  return weight_name + ".bias";
}

cpu::Linear make_linear(WeightLoader& ld, const std::string& name, int64_t out, int64_t in, bool has_bias,
                        cpu::LinearFormat format) {
  const cpu::WeightView w = ld.matrix(name, out, in);
  std::vector<float> bias;
  if (has_bias) bias = ld.vector_f32(bias_name(name), out);
  cpu::Linear lin = cpu::Linear::create(w, has_bias ? bias.data() : nullptr, format);
  if (format != cpu::LinearFormat::Native)
    ld.recount(static_cast<size_t>(out * in) * dtype_size(w.dtype), lin.weight_bytes());
  return lin;
}

// Rows [row_begin, row_begin + rows) of a fused [*, in] weight (Phi-3's qkv_proj / gate_up_proj) as their
// own Linear: a view into the same buffer, so each part is still one matmul and nothing is copied.
cpu::Linear make_linear_rows(WeightLoader& ld, const cpu::WeightView& whole, int64_t row_begin, int64_t rows,
                             cpu::LinearFormat format) {
  cpu::WeightView w = whole;
  w.out_features = rows;
  w.data = static_cast<const uint8_t*>(whole.data) + static_cast<size_t>(row_begin * whole.in_features) * dtype_size(whole.dtype);
  cpu::Linear lin = cpu::Linear::create(w, nullptr, format);
  if (format != cpu::LinearFormat::Native)
    ld.recount(static_cast<size_t>(rows * w.in_features) * dtype_size(w.dtype), lin.weight_bytes());
  return lin;
}

// A norm's weight (and its bias for LayerNorm); "" = the family has no such norm (left empty).
void load_norm(WeightLoader& ld, const std::string& name, int64_t n, bool has_bias, std::vector<float>& weight,
               std::vector<float>& bias) {
  if (name.empty()) return;
  weight = ld.vector_f32(name, n);
  if (has_bias) bias = ld.vector_f32(bias_name(name), n);
}

}  // namespace

cpu::LinearFormat parse_quantization(const std::string& name) {
  if (name.empty() || name == "none") return cpu::LinearFormat::Native;
  if (name == "int8") return cpu::LinearFormat::Int8;
  if (name == "int4") return cpu::LinearFormat::Int4;
  throw Error("unknown quantization '" + name + "' (expected int8 or int4)");
}

DType resolve_dtype(const std::string& requested, DType checkpoint_dtype) {
  if (requested == "auto") return checkpoint_dtype == DType::BF16 ? DType::BF16 : DType::F16;
  return parse_dtype(requested);
}

std::unique_ptr<Model> Model::load(const std::string& model_dir, const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model());
  const cpu::LinearFormat qf = parse_quantization(opts.quantization);
  m->quantization_ = qf;
  // The LM head is int8 under both int8 and int4 (see LoadOptions::quantization).
  const cpu::LinearFormat head_format = qf == cpu::LinearFormat::Native ? qf : cpu::LinearFormat::Int8;
  m->config_ = load_model_config(model_dir);
  m->generation_ = load_generation_config(model_dir);
  if (m->generation_.eos_token_ids.empty()) m->generation_.eos_token_ids = m->config_.eos_token_ids;
  if (!m->generation_.bos_token_id && m->config_.bos_token_id >= 0) m->generation_.bos_token_id = m->config_.bos_token_id;
  const ModelConfig& c = m->config_;
  const ArchSpec& arch = find_architecture(c.architecture);

  m->checkpoint_ = SafetensorsCheckpoint::open(model_dir);
  const ModelTensorNames names = arch.model_names();
  const TensorView& embed_view = m->checkpoint_.get(names.embed_tokens);
  DType ckpt_dtype = embed_view.dtype();
  if (!c.torch_dtype.empty() && (c.torch_dtype == "float32" || c.torch_dtype == "float16" || c.torch_dtype == "bfloat16"))
    ckpt_dtype = parse_dtype(c.torch_dtype);
  m->dtype_ = resolve_dtype(opts.dtype, ckpt_dtype);

  WeightLoader ld(m->checkpoint_, m->dtype_, m->owned_);
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t qw = int64_t{c.num_attention_heads} * c.head_dim, kvw = int64_t{c.num_key_value_heads} * c.head_dim;
  DecoderWeights w;
  const cpu::WeightView embed = ld.matrix(names.embed_tokens, V, H);
  w.embed = embed.data;
  w.embed_dtype = embed.dtype;
  const bool ln = c.norm_kind == NormKind::LayerNorm;
  load_norm(ld, names.final_norm, H, ln, w.final_norm, w.final_norm_bias);
  if (c.tie_word_embeddings) {
    w.lm_head = cpu::Linear::create(embed, nullptr, head_format);
    if (head_format != cpu::LinearFormat::Native) ld.recount(0, w.lm_head.weight_bytes());  // its own copy
  } else {
    w.lm_head = make_linear(ld, names.lm_head, V, H, c.lm_head_bias, head_format);
  }
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerTensorNames n = arch.layer_names(l);
    DecoderLayerWeights L;
    load_norm(ld, n.attn_norm, H, ln, L.attn_norm, L.attn_norm_bias);
    if (!n.qkv_proj.empty()) {  // fused [q; k; v] rows, no bias (Phi-3)
      const cpu::WeightView qkv = ld.matrix(n.qkv_proj, qw + 2 * kvw, H);
      L.q_proj = make_linear_rows(ld, qkv, 0, qw, qf);
      L.k_proj = make_linear_rows(ld, qkv, qw, kvw, qf);
      L.v_proj = make_linear_rows(ld, qkv, qw + kvw, kvw, qf);
    } else {
      L.q_proj = make_linear(ld, n.q_proj, qw, H, c.attention_qkv_bias, qf);
      L.k_proj = make_linear(ld, n.k_proj, kvw, H, c.attention_qkv_bias, qf);
      L.v_proj = make_linear(ld, n.v_proj, kvw, H, c.attention_qkv_bias, qf);
    }
    L.o_proj = make_linear(ld, n.o_proj, H, qw, c.attention_out_bias, qf);
    std::vector<float> no_bias;  // the post-norms are RMSNorms (Gemma-2 only)
    load_norm(ld, n.post_attn_norm, H, false, L.post_attn_norm, no_bias);
    load_norm(ld, c.parallel_block ? "" : n.mlp_norm, H, ln, L.mlp_norm, L.mlp_norm_bias);
    if (!n.gate_up_proj.empty()) {  // fused [gate; up] rows, no bias (Phi-3)
      const cpu::WeightView gu = ld.matrix(n.gate_up_proj, 2 * I, H);
      L.gate_proj = make_linear_rows(ld, gu, 0, I, qf);
      L.up_proj = make_linear_rows(ld, gu, I, I, qf);
    } else {
      if (c.gated_mlp) L.gate_proj = make_linear(ld, n.gate_proj, I, H, c.mlp_bias, qf);
      L.up_proj = make_linear(ld, n.up_proj, I, H, c.mlp_bias, qf);
    }
    L.down_proj = make_linear(ld, n.down_proj, H, I, c.mlp_bias, qf);
    load_norm(ld, n.post_mlp_norm, H, false, L.post_mlp_norm, no_bias);
    w.layers.push_back(std::move(L));
  }
  m->weight_bytes_ = ld.bytes();
  m->num_parameters_ = ld.params();
  m->decode_read_bytes_ = w.lm_head.weight_bytes();
  for (const DecoderLayerWeights& L : w.layers)
    for (const cpu::Linear* lin : {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj, &L.up_proj, &L.down_proj})
      if (lin != &L.gate_proj || c.gated_mlp) m->decode_read_bytes_ += lin->weight_bytes();  // Phi2: no gate
  m->decoder_ = std::make_unique<Decoder>(m->config_, std::move(w));
  return m;
}

KvCacheShape Model::kv_cache_shape(int num_blocks, int block_size) const {
  KvCacheShape s;
  s.num_layers = config_.num_hidden_layers;
  s.num_blocks = num_blocks;
  s.block_size = block_size;
  s.num_kv_heads = config_.num_key_value_heads;
  s.head_dim = config_.head_dim;
  s.dtype = dtype_;
  return s;
}

void Model::validate(const ModelInputs& in, const KvCache& kv) const {
  const KvCacheShape& s = kv.shape();
  check(s.num_layers == config_.num_hidden_layers && s.num_kv_heads == config_.num_key_value_heads &&
            s.head_dim == config_.head_dim && s.dtype == dtype_ && s.block_size > 0,
        "KV cache shape does not match the model (layers/kv heads/head_dim/dtype); use Model::kv_cache_shape");
  const int64_t T = static_cast<int64_t>(in.token_ids.size());
  check(static_cast<int64_t>(in.positions.size()) == T,
        "model inputs: " + std::to_string(in.positions.size()) + " positions for " + std::to_string(T) + " tokens");
  for (int64_t t = 0; t < T; ++t)
    check(in.token_ids[t] >= 0 && in.token_ids[t] < config_.vocab_size,
          "model inputs: token id " + std::to_string(in.token_ids[t]) + " is outside the vocabulary [0, " +
              std::to_string(config_.vocab_size) + ")");
  int64_t next = 0;
  for (size_t i = 0; i < in.seqs.size(); ++i) {
    const SeqSlice& q = in.seqs[i];
    const std::string at = "model inputs: sequence " + std::to_string(i);
    check(q.token_begin == next && q.num_tokens > 0 && q.num_computed >= 0 && next + q.num_tokens <= T,
          at + " does not continue the token list (token_begin " + std::to_string(q.token_begin) +
              ", num_tokens " + std::to_string(q.num_tokens) + ")");
    for (int j = 0; j < q.num_tokens; ++j)
      check(in.positions[static_cast<size_t>(q.token_begin + j)] == q.num_computed + j,
            at + ": position of token " + std::to_string(j) + " is not num_computed + " + std::to_string(j));
    const int64_t needed = (int64_t{q.num_computed} + q.num_tokens + s.block_size - 1) / s.block_size;
    check(static_cast<int64_t>(q.block_table.size()) >= needed,
          at + ": block table has " + std::to_string(q.block_table.size()) + " blocks, needs " + std::to_string(needed));
    for (int64_t b = 0; b < needed; ++b)
      check(q.block_table[static_cast<size_t>(b)] >= 0 && q.block_table[static_cast<size_t>(b)] < s.num_blocks,
            at + ": block id " + std::to_string(q.block_table[static_cast<size_t>(b)]) + " is outside [0, " +
                std::to_string(s.num_blocks) + ")");
    next += q.num_tokens;
  }
  check(next == T, "model inputs: sequences cover " + std::to_string(next) + " of " + std::to_string(T) + " tokens");
  for (int32_t r : in.logit_rows)
    check(r >= 0 && r < T, "model inputs: logit row " + std::to_string(r) + " is outside [0, " + std::to_string(T) + ")");
}

void Model::forward(const ModelInputs& in, KvCache& kv, ModelOutput& out) {
  validate(in, kv);
  decoder_->forward(in, kv, out);
}

}  // namespace serval
