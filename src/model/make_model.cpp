// make-model: preset configs with the real keys of each family, deterministic parallel weight
// generation streamed into model.safetensors, generation_config.json and the tokenizer files.
#include "model/make_model.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/embedded_assets.h"
#include "model/llama3_tokenizer.h"

namespace serval {

namespace {

using nlohmann::json;

struct Preset {
  const char* arch;
  const char* name;
  int hidden, intermediate, layers, heads, kv_heads, head_dim;  // head_dim 0 = hidden / heads
  int64_t vocab;
  bool tied;
};

const Preset kPresets[] = {
    {"qwen2", "tiny", 64, 128, 2, 4, 2, 0, 151936, true},
    {"qwen2", "qwen2.5-0.5b", 896, 4864, 24, 14, 2, 0, 151936, true},
    {"qwen2", "qwen2.5-1.5b", 1536, 8960, 28, 12, 2, 0, 151936, true},
    // Tiny llama: GQA 4:1, explicit head_dim with heads*head_dim != hidden, untied head, llama3 RoPE scaling
    // whose smoothing band is reached within a few dozen positions.
    {"llama", "tiny", 64, 160, 2, 8, 2, 16, 128256, false},
    {"llama", "llama-3.2-1b", 2048, 8192, 16, 32, 8, 64, 128256, true},
    // Tiny phi3: GQA 2:1, longrope (original context 32, so prompts past 32 tokens take the long factors)
    // and a 24-token sliding window, to test both against the numpy reference.
    {"phi3", "tiny", 64, 128, 2, 4, 2, 0, 32064, false},
    {"phi3", "phi-3-mini-4k", 3072, 8192, 32, 32, 32, 0, 32064, false},
    // Tiny gemma2: head_dim 16 with heads * head_dim (64) != hidden (32), window 16 on layers 0 and 2.
    {"gemma2", "tiny", 32, 64, 3, 4, 2, 16, 262144, true},
    // NOTE: vocab 256000 as gemma-2-2b; the embedded tokenizer is Gemma 3's (262144 ids, see assets/gemma2).
    {"gemma2", "gemma-2-2b", 2304, 9216, 26, 8, 4, 256, 256000, true},
    {"phi2", "tiny", 48, 192, 2, 3, 3, 0, 51200, false},
    {"phi2", "phi-2", 2560, 10240, 32, 32, 32, 0, 51200, false},
};

bool is(const Preset& p, const char* arch) { return std::string(p.arch) == arch; }
bool is_tiny(const Preset& p) { return std::string(p.name) == "tiny"; }

// Longrope factors of the tiny phi3 preset: [rotary_dim / 2] = 8 distinct values each.
json tiny_longrope_factors(double base, double step) {
  json f = json::array();
  for (int i = 0; i < 8; ++i) f.push_back(base + step * i);
  return f;
}

const Preset& find_preset(const std::string& arch, const std::string& name) {
  for (const Preset& p : kPresets)
    if (arch == p.arch && name == p.name) return p;
  std::string list;
  for (const std::string& s : make_model_presets()) list += (list.empty() ? "" : ", ") + s;
  throw Error("make-model: unknown arch/preset '" + arch + "/" + name + "' (supported: " + list + ")");
}

json make_config(const Preset& p, const std::string& dtype) {
  const int head_dim = p.head_dim ? p.head_dim : p.hidden / p.heads;
  json c;
  if (is(p, "phi3")) {
    // Keys of microsoft/Phi-3-mini-4k-instruct's config.json.
    c = {{"architectures", {"Phi3ForCausalLM"}}, {"attention_bias", false}, {"attention_dropout", 0.0},
         {"bos_token_id", 1}, {"embd_pdrop", 0.0}, {"eos_token_id", 32000}, {"hidden_act", "silu"},
         {"hidden_size", p.hidden}, {"initializer_range", 0.02}, {"intermediate_size", p.intermediate},
         {"max_position_embeddings", is_tiny(p) ? 128 : 4096}, {"model_type", "phi3"},
         {"num_attention_heads", p.heads}, {"num_hidden_layers", p.layers}, {"num_key_value_heads", p.kv_heads},
         {"original_max_position_embeddings", is_tiny(p) ? 32 : 4096}, {"pad_token_id", 32000},
         {"resid_pdrop", 0.0}, {"rms_norm_eps", 1e-5}, {"rope_scaling", nullptr}, {"rope_theta", 10000.0},
         {"sliding_window", is_tiny(p) ? 24 : 2047}, {"tie_word_embeddings", p.tied}, {"torch_dtype", dtype},
         {"transformers_version", "4.40.2"}, {"use_cache", true}, {"vocab_size", p.vocab}};
    if (is_tiny(p))
      c["rope_scaling"] = {{"type", "longrope"}, {"short_factor", tiny_longrope_factors(1.0, 0.05)},
                           {"long_factor", tiny_longrope_factors(1.5, 0.9)}};
    return c;
  }
  if (is(p, "gemma2")) {
    // Keys of google/gemma-2-2b-it's config.json (eos 106: <end_of_turn> of the embedded Gemma 3 tokenizer).
    return {{"architectures", {"Gemma2ForCausalLM"}}, {"attention_bias", false}, {"attention_dropout", 0.0},
            {"attn_logit_softcapping", 50.0}, {"bos_token_id", 2}, {"cache_implementation", "hybrid"},
            {"eos_token_id", {1, 106}}, {"final_logit_softcapping", 30.0}, {"head_dim", head_dim},
            {"hidden_act", "gelu_pytorch_tanh"}, {"hidden_activation", "gelu_pytorch_tanh"},
            {"hidden_size", p.hidden}, {"initializer_range", 0.02}, {"intermediate_size", p.intermediate},
            {"max_position_embeddings", 8192}, {"model_type", "gemma2"}, {"num_attention_heads", p.heads},
            {"num_hidden_layers", p.layers}, {"num_key_value_heads", p.kv_heads}, {"pad_token_id", 0},
            {"query_pre_attn_scalar", is_tiny(p) ? 16 : 256}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0},
            {"sliding_window", is_tiny(p) ? 16 : 4096}, {"torch_dtype", dtype},
            {"transformers_version", "4.42.4"}, {"use_cache", true}, {"vocab_size", p.vocab}};
  }
  if (is(p, "phi2")) {
    // Keys of microsoft/phi-2's config.json.
    return {{"architectures", {"PhiForCausalLM"}}, {"attention_dropout", 0.0}, {"bos_token_id", 50256},
            {"embd_pdrop", 0.0}, {"eos_token_id", 50256}, {"hidden_act", "gelu_new"}, {"hidden_size", p.hidden},
            {"initializer_range", 0.02}, {"intermediate_size", p.intermediate}, {"layer_norm_eps", 1e-5},
            {"max_position_embeddings", 2048}, {"model_type", "phi"}, {"num_attention_heads", p.heads},
            {"num_hidden_layers", p.layers}, {"num_key_value_heads", p.kv_heads}, {"partial_rotary_factor", 0.4},
            {"qk_layernorm", false}, {"resid_pdrop", 0.1}, {"rope_scaling", nullptr}, {"rope_theta", 10000.0},
            {"tie_word_embeddings", p.tied}, {"torch_dtype", dtype}, {"transformers_version", "4.37.0"},
            {"use_cache", true}, {"vocab_size", p.vocab}};
  }
  if (is(p, "qwen2")) {
    c = {{"architectures", {"Qwen2ForCausalLM"}}, {"attention_dropout", 0.0}, {"bos_token_id", 151643},
         {"eos_token_id", 151645}, {"hidden_act", "silu"}, {"hidden_size", p.hidden}, {"initializer_range", 0.02},
         {"intermediate_size", p.intermediate}, {"max_position_embeddings", 32768},
         {"max_window_layers", p.layers < 21 ? p.layers : 21}, {"model_type", "qwen2"},
         {"num_attention_heads", p.heads}, {"num_hidden_layers", p.layers}, {"num_key_value_heads", p.kv_heads},
         {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0}, {"sliding_window", 32768},
         {"tie_word_embeddings", p.tied}, {"torch_dtype", dtype}, {"transformers_version", "4.43.1"},
         {"use_cache", true}, {"use_sliding_window", false}, {"vocab_size", p.vocab}};
  } else {
    const bool tiny = std::string(p.name) == "tiny";
    c = {{"architectures", {"LlamaForCausalLM"}}, {"attention_bias", false}, {"attention_dropout", 0.0},
         {"bos_token_id", 128000}, {"eos_token_id", {128001, 128008, 128009}}, {"head_dim", head_dim},
         {"hidden_act", "silu"}, {"hidden_size", p.hidden}, {"initializer_range", 0.02},
         {"intermediate_size", p.intermediate}, {"max_position_embeddings", tiny ? 256 : 131072},
         {"mlp_bias", false}, {"model_type", "llama"}, {"num_attention_heads", p.heads},
         {"num_hidden_layers", p.layers}, {"num_key_value_heads", p.kv_heads}, {"pretraining_tp", 1},
         {"rms_norm_eps", 1e-5},
         {"rope_scaling",
          {{"factor", tiny ? 8.0 : 32.0}, {"high_freq_factor", 4.0}, {"low_freq_factor", 1.0},
           {"original_max_position_embeddings", tiny ? 64 : 8192}, {"rope_type", "llama3"}}},
         {"rope_theta", 500000.0}, {"tie_word_embeddings", p.tied}, {"torch_dtype", dtype},
         {"transformers_version", "4.45.0"}, {"use_cache", true}, {"vocab_size", p.vocab}};
  }
  return c;
}

json make_generation_config(const Preset& p) {
  if (is(p, "phi3"))
    return {{"bos_token_id", 1}, {"eos_token_id", {32000, 32001, 32007}}, {"pad_token_id", 32000},
            {"transformers_version", "4.40.2"}};
  if (is(p, "gemma2"))
    return {{"bos_token_id", 2}, {"cache_implementation", "hybrid"}, {"eos_token_id", {1, 106}},
            {"pad_token_id", 0}, {"transformers_version", "4.42.4"}};
  if (is(p, "phi2")) return {{"bos_token_id", 50256}, {"eos_token_id", 50256}, {"transformers_version", "4.37.0"}};
  if (is(p, "qwen2"))
    return {{"bos_token_id", 151643}, {"pad_token_id", 151643}, {"do_sample", true},
            {"eos_token_id", {151645, 151643}}, {"repetition_penalty", 1.05}, {"temperature", 0.7},
            {"top_p", 0.8}, {"top_k", 20}, {"transformers_version", "4.37.0"}};
  return {{"bos_token_id", 128000}, {"do_sample", true}, {"eos_token_id", {128001, 128008, 128009}},
          {"temperature", 0.6}, {"top_p", 0.9}, {"transformers_version", "4.45.0"}};
}

enum class Init { Matrix, Norm, NormOffset };  // NormOffset: Gemma's stored w of a (1 + w) norm
struct Spec {
  std::string name;
  std::vector<int64_t> shape;
  Init init;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// Phi-2's layout: LayerNorms and every projection with biases, dense/fc1/fc2 names, lm_head bias.
std::vector<Spec> phi2_tensor_specs(const Preset& p) {
  const int64_t H = p.hidden, I = p.intermediate, V = p.vocab;
  std::vector<Spec> s;
  s.push_back({"model.embed_tokens.weight", {V, H}, Init::Matrix});
  for (int l = 0; l < p.layers; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    s.push_back({pre + "input_layernorm.weight", {H}, Init::Norm});
    s.push_back({pre + "input_layernorm.bias", {H}, Init::Matrix});
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "dense"}) {
      s.push_back({pre + "self_attn." + proj + ".weight", {H, H}, Init::Matrix});
      s.push_back({pre + "self_attn." + proj + ".bias", {H}, Init::Matrix});
    }
    s.push_back({pre + "mlp.fc1.weight", {I, H}, Init::Matrix});
    s.push_back({pre + "mlp.fc1.bias", {I}, Init::Matrix});
    s.push_back({pre + "mlp.fc2.weight", {H, I}, Init::Matrix});
    s.push_back({pre + "mlp.fc2.bias", {H}, Init::Matrix});
  }
  s.push_back({"model.final_layernorm.weight", {H}, Init::Norm});
  s.push_back({"model.final_layernorm.bias", {H}, Init::Matrix});
  s.push_back({"lm_head.weight", {V, H}, Init::Matrix});
  s.push_back({"lm_head.bias", {V}, Init::Matrix});
  return s;
}

std::vector<Spec> tensor_specs(const Preset& p) {
  if (is(p, "phi2")) return phi2_tensor_specs(p);
  const int64_t H = p.hidden, I = p.intermediate, hd = p.head_dim ? p.head_dim : p.hidden / p.heads;
  const int64_t qw = p.heads * hd, kvw = p.kv_heads * hd;
  const bool qwen = is(p, "qwen2"), phi3 = is(p, "phi3"), gemma = is(p, "gemma2");
  const Init norm = gemma ? Init::NormOffset : Init::Norm;
  std::vector<Spec> s;
  s.push_back({"model.embed_tokens.weight", {p.vocab, H}, Init::Matrix});
  for (int l = 0; l < p.layers; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    s.push_back({pre + "input_layernorm.weight", {H}, norm});
    if (phi3) {  // fused as in the real checkpoint: rows q, then k, then v; rows gate, then up
      s.push_back({pre + "self_attn.qkv_proj.weight", {qw + 2 * kvw, H}, Init::Matrix});
      s.push_back({pre + "self_attn.o_proj.weight", {H, qw}, Init::Matrix});
      s.push_back({pre + "post_attention_layernorm.weight", {H}, norm});
      s.push_back({pre + "mlp.gate_up_proj.weight", {2 * I, H}, Init::Matrix});
      s.push_back({pre + "mlp.down_proj.weight", {H, I}, Init::Matrix});
      continue;
    }
    s.push_back({pre + "self_attn.q_proj.weight", {qw, H}, Init::Matrix});
    if (qwen) s.push_back({pre + "self_attn.q_proj.bias", {qw}, Init::Matrix});
    s.push_back({pre + "self_attn.k_proj.weight", {kvw, H}, Init::Matrix});
    if (qwen) s.push_back({pre + "self_attn.k_proj.bias", {kvw}, Init::Matrix});
    s.push_back({pre + "self_attn.v_proj.weight", {kvw, H}, Init::Matrix});
    if (qwen) s.push_back({pre + "self_attn.v_proj.bias", {kvw}, Init::Matrix});
    s.push_back({pre + "self_attn.o_proj.weight", {H, qw}, Init::Matrix});
    s.push_back({pre + "post_attention_layernorm.weight", {H}, norm});
    if (gemma) s.push_back({pre + "pre_feedforward_layernorm.weight", {H}, norm});
    s.push_back({pre + "mlp.gate_proj.weight", {I, H}, Init::Matrix});
    s.push_back({pre + "mlp.up_proj.weight", {I, H}, Init::Matrix});
    s.push_back({pre + "mlp.down_proj.weight", {H, I}, Init::Matrix});
    if (gemma) s.push_back({pre + "post_feedforward_layernorm.weight", {H}, norm});
  }
  s.push_back({"model.norm.weight", {H}, norm});
  if (!p.tied) s.push_back({"lm_head.weight", {p.vocab, H}, Init::Matrix});
  return s;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr int64_t kChunk = int64_t{1} << 20;  // elements per independently seeded chunk

// Fills [begin, begin + n) of tensor `index` (n <= kChunk, begin a multiple of kChunk) in dtype `to`.
void fill_chunk(uint64_t seed, size_t index, int64_t begin, int64_t n, Init init, DType to, uint8_t* dst) {
  uint64_t state = seed * 0x100000001b3ull ^ (static_cast<uint64_t>(index) << 32) ^ static_cast<uint64_t>(begin / kChunk);
  splitmix64(state);
  // Uniform on [-a, a] has std a / sqrt(3): a = 0.02 * sqrt(3) gives std 0.02.
  const float a = init == Init::Matrix ? 0.0346410162f : 0.1f;
  const float center = init == Init::Norm ? 1.0f : 0.0f;
  float buf[4];
  const size_t es = dtype_size(to);
  for (int64_t i = 0; i < n; i += 4) {
    const uint64_t r = splitmix64(state);
    for (int j = 0; j < 4; ++j)
      buf[j] = center + a * ((static_cast<float>((r >> (16 * j)) & 0xffff) + 0.5f) / 32768.0f - 1.0f);
    const int64_t take = std::min<int64_t>(4, n - i);
    convert_from_f32(to, buf, dst + static_cast<size_t>(i) * es, static_cast<size_t>(take));
  }
}

void write_text(const std::filesystem::path& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  check(f.good(), "make-model: cannot write " + path.string());
}

void write_safetensors(const std::filesystem::path& path, const std::vector<Spec>& specs, DType dtype,
                       const std::string& tag, uint64_t seed) {
  const size_t es = dtype_size(dtype);
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const Spec& s : specs) {
    const uint64_t bytes = static_cast<uint64_t>(s.numel()) * es;
    header[s.name] = {{"dtype", tag}, {"shape", s.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data region 8-byte aligned

  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  check(f != nullptr, "make-model: cannot create " + path.string());
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f.get()) == 8 && std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();

  ThreadPool& pool = global_thread_pool();
  const int64_t batch = int64_t{4} * pool.num_threads();  // chunks generated per parallel round
  std::vector<uint8_t> buf(static_cast<size_t>(batch * kChunk) * es);
  for (size_t ti = 0; ti < specs.size() && ok; ++ti) {
    const int64_t n = specs[ti].numel();
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    for (int64_t c0 = 0; c0 < chunks && ok; c0 += batch) {
      const int64_t c1 = std::min(chunks, c0 + batch);
      pool.parallel_for(c1 - c0, [&](int64_t b, int64_t e) {
        for (int64_t c = c0 + b; c < c0 + e; ++c) {
          const int64_t begin = c * kChunk, len_c = std::min(kChunk, n - begin);
          fill_chunk(seed, ti, begin, len_c, specs[ti].init, dtype, buf.data() + static_cast<size_t>((c - c0) * kChunk) * es);
        }
      });
      const size_t bytes = static_cast<size_t>(std::min(n, c1 * kChunk) - c0 * kChunk) * es;
      ok = std::fwrite(buf.data(), 1, bytes, f.get()) == bytes;
    }
  }
  ok = ok && std::fflush(f.get()) == 0;
  check(ok, "make-model: failed writing " + path.string() + " (disk full?)");
}

// NOTE: zlib's inflate by hand because no installed library offers a one-call gunzip of a memory buffer.
std::string gunzip_asset(std::string_view gz) {
  z_stream zs{};
  check(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "make-model: zlib initialisation failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  std::vector<char> buf(size_t{1} << 20);
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - zs.avail_out);
  }
  inflateEnd(&zs);
  check(rc == Z_STREAM_END, "make-model: an embedded tokenizer asset is corrupt (zlib error " + std::to_string(rc) + ")");
  return out;
}

}  // namespace

std::vector<std::string> make_model_presets() {
  std::vector<std::string> v;
  for (const Preset& p : kPresets) v.push_back(std::string(p.arch) + "/" + p.name);
  return v;
}

std::string make_model_config_json(const std::string& arch, const std::string& preset, const std::string& dtype) {
  const Preset& p = find_preset(arch, preset);
  return make_config(p, std::string(dtype_name(parse_dtype(dtype)))).dump(2) + "\n";
}

void make_model(const MakeModelOptions& opts) {
  const Preset& p = find_preset(opts.arch, opts.preset);
  const DType dtype = parse_dtype(opts.dtype);
  const std::string tag = dtype == DType::F32 ? "F32" : dtype == DType::F16 ? "F16" : "BF16";
  check(!opts.out_dir.empty(), "make-model: no output directory given");
  namespace fs = std::filesystem;
  const fs::path dir(opts.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(!ec && fs::is_directory(dir), "make-model: cannot create directory " + dir.string() + ": " + ec.message());

  write_text(dir / "config.json", make_config(p, std::string(dtype_name(dtype))).dump(2) + "\n");
  write_text(dir / "generation_config.json", make_generation_config(p).dump(2) + "\n");
  if (is(p, "qwen2")) {
    write_text(dir / "tokenizer.json", assets::qwen25_tokenizer_json());
    write_text(dir / "tokenizer_config.json", assets::qwen25_tokenizer_config_json());
  } else if (is(p, "phi3")) {
    write_text(dir / "tokenizer.json", assets::phi3_tokenizer_json());
    write_text(dir / "tokenizer_config.json", assets::phi3_tokenizer_config_json());
  } else if (is(p, "phi2")) {
    write_text(dir / "tokenizer.json", assets::phi2_tokenizer_json());
    write_text(dir / "tokenizer_config.json", assets::phi2_tokenizer_config_json());
  } else if (is(p, "gemma2")) {
    write_text(dir / "tokenizer.json", gunzip_asset(assets::gemma2_tokenizer_json_gz()));
    write_text(dir / "tokenizer_config.json", gunzip_asset(assets::gemma2_tokenizer_config_json_gz()));
  } else {
    const TokenizerFiles t = derive_llama3_tokenizer();
    write_text(dir / "tokenizer.json", t.tokenizer_json);
    write_text(dir / "tokenizer_config.json", t.tokenizer_config_json);
  }
  write_safetensors(dir / "model.safetensors", tensor_specs(p), dtype, tag, opts.seed);
}

}  // namespace serval
