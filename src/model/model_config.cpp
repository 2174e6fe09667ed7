// config.json parsing: the keys every decoder family shares, then the architecture's own flags.
#include "model/model_config.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/arch_registry.h"

namespace serval {

namespace {

using nlohmann::json;

int get_positive_int(const json& j, const std::string& key, const std::string& source) {
  check(j.contains(key), source + " is missing required key '" + key + "'");
  const json& v = j[key];
  check(v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= (int64_t{1} << 31) - 1,
        source + ": '" + key + "' must be a positive integer, got " + v.dump());
  return static_cast<int>(v.get<int64_t>());
}

double get_number(const json& j, const std::string& key, double fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_number(), source + ": '" + key + "' must be a number, got " + j[key].dump());
  return j[key].get<double>();
}

bool get_bool(const json& j, const std::string& key, bool fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_boolean(), source + ": '" + key + "' must be true or false, got " + j[key].dump());
  return j[key].get<bool>();
}

std::vector<int64_t> get_id_list(const json& j, const std::string& key, const std::string& source) {
  std::vector<int64_t> ids;
  if (!j.contains(key) || j[key].is_null()) return ids;
  const json& v = j[key];
  if (v.is_number_integer()) return {v.get<int64_t>()};
  check(v.is_array(), source + ": '" + key + "' must be an integer or a list of integers, got " + v.dump());
  for (const json& e : v) {
    check(e.is_number_integer(), source + ": '" + key + "' must list integers, got " + v.dump());
    ids.push_back(e.get<int64_t>());
  }
  return ids;
}

std::vector<double> get_factor_list(const json& rs, const std::string& key, size_t size, const std::string& what) {
  check(rs.contains(key) && rs[key].is_array(), what + " is missing the list '" + key + "'");
  std::vector<double> v;
  for (const json& e : rs[key]) {
    check(e.is_number() && e.get<double>() > 0, what + "." + key + " must list positive numbers");
    v.push_back(e.get<double>());
  }
  check(v.size() == size, what + "." + key + " has " + std::to_string(v.size()) + " entries, expected rotary_dim / 2 = " +
                              std::to_string(size));
  return v;
}

// transformers' _compute_longrope_parameters (Phi-3-mini-128k, Phi-3.5-mini): per-frequency divisors,
// short ones up to original_max_position_embeddings, long ones beyond, and the attention factor on cos/sin.
void parse_longrope(const json& j, const json& rs, const std::string& what, ModelConfig& c) {
  c.rope_scaling = RopeScalingKind::LongRope;
  const size_t half = static_cast<size_t>(c.rotary_dim() / 2);
  c.rope_short_factor = get_factor_list(rs, "short_factor", half, what);
  c.rope_long_factor = get_factor_list(rs, "long_factor", half, what);
  double orig = get_number(rs, "original_max_position_embeddings", 0.0, what);
  if (orig <= 0) orig = get_number(j, "original_max_position_embeddings", 0.0, what);
  if (orig <= 0) orig = c.max_position_embeddings;
  c.rope_original_max_position = static_cast<int>(orig);
  check(c.rope_original_max_position > 0, what + ".original_max_position_embeddings must be positive");
  const double factor = get_number(rs, "factor", c.max_position_embeddings / orig, what);
  c.rope_factor = factor;
  const double default_attn = factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(factor) / std::log(orig));
  c.rope_attention_factor = get_number(rs, "attention_factor", default_attn, what);
}

void parse_rope_scaling(const json& j, const std::string& source, ModelConfig& c) {
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return;
  const json& rs = j["rope_scaling"];
  check(rs.is_object(), source + ": 'rope_scaling' must be an object or null");
  std::string type;
  if (rs.contains("rope_type") && rs["rope_type"].is_string()) type = rs["rope_type"].get<std::string>();
  else if (rs.contains("type") && rs["type"].is_string()) type = rs["type"].get<std::string>();
  const std::string what = source + ": rope_scaling";
  if (type.empty() || type == "default") return;
  if (type == "longrope" || type == "su") {  // "su": Phi-3's first name for longrope (transformers maps it)
    parse_longrope(j, rs, what, c);
    return;
  }
  if (type == "linear") {
    c.rope_scaling = RopeScalingKind::Linear;
  } else if (type == "dynamic") {
    c.rope_scaling = RopeScalingKind::Dynamic;
  } else if (type == "llama3") {
    c.rope_scaling = RopeScalingKind::Llama3;
  } else {
    throw Error(what + " type '" + type + "' is not supported (supported: default, linear, dynamic, llama3, longrope)");
  }
  c.rope_factor = get_number(rs, "factor", 0.0, what);
  check(c.rope_factor > 0, what + ".factor must be a positive number for type '" + type + "'");
  if (c.rope_scaling == RopeScalingKind::Llama3) {
    c.rope_low_freq_factor = get_number(rs, "low_freq_factor", 1.0, what);
    c.rope_high_freq_factor = get_number(rs, "high_freq_factor", 4.0, what);
    check(c.rope_high_freq_factor > c.rope_low_freq_factor,
          what + ".high_freq_factor must exceed low_freq_factor");
    c.rope_original_max_position = static_cast<int>(get_number(rs, "original_max_position_embeddings", 8192, what));
    check(c.rope_original_max_position > 0, what + ".original_max_position_embeddings must be positive");
  }
  if (c.rope_scaling == RopeScalingKind::Dynamic)
    c.rope_original_max_position = c.max_position_embeddings;
}

}  // namespace

ActivationKind parse_activation(const std::string& name, const std::string& what) {
  if (name == "silu" || name == "swish") return ActivationKind::Silu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return ActivationKind::GeluTanh;
  if (name == "gelu") return ActivationKind::Gelu;
  throw Error(what + " '" + name + "' is not supported (supported: silu, gelu, gelu_new, gelu_pytorch_tanh)");
}

ModelConfig parse_model_config(const json& j, const std::string& source) {
  check(j.is_object(), source + " is not a JSON object");
  check(j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
            j["architectures"][0].is_string(),
        source + " has no 'architectures' list naming the model class");
  ModelConfig c;
  c.architecture = j["architectures"][0].get<std::string>();
  const ArchSpec& arch = find_architecture(c.architecture);  // throws listing the supported ones
  if (j.contains("model_type") && j["model_type"].is_string()) c.model_type = j["model_type"].get<std::string>();
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].get<std::string>();

  c.hidden_size = get_positive_int(j, "hidden_size", source);
  c.intermediate_size = get_positive_int(j, "intermediate_size", source);
  c.num_hidden_layers = get_positive_int(j, "num_hidden_layers", source);
  c.num_attention_heads = get_positive_int(j, "num_attention_heads", source);
  c.num_key_value_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                              ? get_positive_int(j, "num_key_value_heads", source)
                              : c.num_attention_heads;
  check(c.num_attention_heads % c.num_key_value_heads == 0,
        source + ": num_attention_heads (" + std::to_string(c.num_attention_heads) +
            ") is not a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ")");
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.head_dim = get_positive_int(j, "head_dim", source);
  } else {
    check(c.hidden_size % c.num_attention_heads == 0,
          source + ": hidden_size is not a multiple of num_attention_heads and no head_dim is given");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  check(c.head_dim % 2 == 0, source + ": head_dim " + std::to_string(c.head_dim) + " must be even for RoPE");
  c.vocab_size = get_positive_int(j, "vocab_size", source);
  c.max_position_embeddings = j.contains("max_position_embeddings")
                                  ? get_positive_int(j, "max_position_embeddings", source)
                                  : 2048;
  c.rope_theta = get_number(j, "rope_theta", 10000.0, source);
  check(c.rope_theta > 0, source + ": 'rope_theta' must be positive");
  c.partial_rotary_factor = get_number(j, "partial_rotary_factor", 1.0, source);
  check(c.partial_rotary_factor > 0 && c.partial_rotary_factor <= 1 && c.rotary_dim() >= 2,
        source + ": 'partial_rotary_factor' must be in (0, 1] and rotate at least 2 dims");
  parse_rope_scaling(j, source, c);
  c.norm_eps = get_number(j, "rms_norm_eps", 1e-6, source);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", false, source);

  std::string act = "silu";
  if (j.contains("hidden_act") && j["hidden_act"].is_string()) act = j["hidden_act"].get<std::string>();
  c.hidden_act = parse_activation(act, source + ": hidden_act");

  c.bos_token_id = get_id_list(j, "bos_token_id", source).empty() ? -1 : get_id_list(j, "bos_token_id", source)[0];
  c.eos_token_ids = get_id_list(j, "eos_token_id", source);
  c.sliding_window.assign(static_cast<size_t>(c.num_hidden_layers), 0);

  arch.configure(j, source, c);
  return c;
}

ModelConfig load_model_config(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  check(std::filesystem::exists(path), "model config " + path + " does not exist");
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw Error("malformed JSON in " + path + ": " + e.what());
  }
  return parse_model_config(j, path);
}

}  // namespace serval
