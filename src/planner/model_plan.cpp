// Model capacity plan (see model_plan.h).
#include "planner/model_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "model/model.h"

namespace serval {

int64_t count_parameters(const ModelConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t qw = int64_t{c.num_attention_heads} * c.head_dim;
  const int64_t kvw = int64_t{c.num_key_value_heads} * c.head_dim;
  const int64_t norm = c.norm_kind == NormKind::LayerNorm ? 2 * H : H;  // LayerNorm has a bias
  int64_t layer = norm;                                                 // input norm
  layer += qw * H + 2 * kvw * H + H * qw;                               // q, k, v, o
  if (c.attention_qkv_bias) layer += qw + 2 * kvw;
  if (c.attention_out_bias) layer += H;
  if (!c.parallel_block) layer += norm;                                 // post-attention (pre-MLP) norm
  if (c.post_attention_norms) layer += 2 * norm;                        // Gemma-2's two extra norms
  // Phi-2 (parallel block) has a plain fc1/fc2 MLP; the others a gated one (gate, up, down).
  layer += c.parallel_block ? 2 * H * I : 3 * H * I;
  if (c.mlp_bias) layer += c.parallel_block ? I + H : 2 * I + H;
  int64_t total = V * H + norm + layer * c.num_hidden_layers;  // embeddings, final norm, layers
  if (!c.tie_word_embeddings) total += V * H;
  if (c.parallel_block) total += V;  // Phi-2's lm_head bias
  return total;
}

size_t estimate_activation_bytes(const ModelConfig& c, int max_num_batched_tokens, int max_num_seqs) {
  const int64_t T = max_num_batched_tokens, H = c.hidden_size, I = c.intermediate_size;
  const int64_t qw = int64_t{c.num_attention_heads} * c.head_dim;
  const int64_t kvw = int64_t{c.num_key_value_heads} * c.head_dim;
  const int64_t R = std::min<int64_t>(T, std::max(max_num_seqs, 1));
  // Per token: residual x, normed cur, o_proj out (3H); q and attention out (2qw); k, v (2kvw);
  // gate, up (2I); cos + sin (rotary_dim). Per logit row: the normed row (H) and the logits (V).
  const int64_t floats = T * (3 * H + 2 * qw + 2 * kvw + 2 * I + c.rotary_dim()) + R * (H + c.vocab_size);
  return static_cast<size_t>(floats) * sizeof(float);
}

KvLayout kv_layout_for_model(const ModelConfig& c, DType kv_dtype) {
  KvLayout kv;
  kv.num_layers = c.num_hidden_layers;
  kv.num_kv_heads = c.num_key_value_heads;
  kv.head_dim = c.head_dim;
  kv.dtype_bytes = dtype_size(kv_dtype);
  if (std::any_of(c.sliding_window.begin(), c.sliding_window.end(), [](int w) { return w > 0; }))
    kv.layer_window = c.sliding_window;
  return kv;
}

DType plan_dtype(const ModelConfig& c, const std::string& requested) {
  DType checkpoint = DType::F32;
  if (c.torch_dtype == "bfloat16" || c.torch_dtype == "float16" || c.torch_dtype == "float32")
    checkpoint = parse_dtype(c.torch_dtype);
  return resolve_dtype(requested, checkpoint);
}

void check_max_model_len(const ModelConfig& c, int max_model_len) {
  if (c.max_position_embeddings > 0 && max_model_len > c.max_position_embeddings)
    throw Error("User-specified max_model_len (" + std::to_string(max_model_len) +
                ") is greater than the derived max_model_len (max_position_embeddings=" +
                std::to_string(c.max_position_embeddings) + " in the model's config.json); lower --max-model-len");
}

namespace {

void validate(const PlanSettings& s) {
  check(s.device_memory_bytes > 0 || s.kv_cache_memory.has_value(),
        "give --device-memory (a size or a device name) or --kv-cache-memory");
  check(s.gpu_memory_utilization > 0 && s.gpu_memory_utilization <= 1,
        "--gpu-memory-utilization must be in (0, 1], got " + std::to_string(s.gpu_memory_utilization));
  check(s.max_model_len >= 0, "--max-model-len must be positive, got " + std::to_string(s.max_model_len));
  check(s.block_size > 0, "--block-size must be positive, got " + std::to_string(s.block_size));
  check(s.max_num_batched_tokens > 0,
        "--max-num-batched-tokens must be positive, got " + std::to_string(s.max_num_batched_tokens));
  check(s.max_num_seqs > 0, "--max-num-seqs must be positive, got " + std::to_string(s.max_num_seqs));
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Max concurrency of one table cell as text: "12.50x", "-" when one request does not fit.
std::string cell_text(const PlanTableCell& cell) {
  if (cell.beyond_model_max) return "n/a";
  if (!cell.capacity.fits_one_request) return "-";
  return fixed(cell.capacity.max_concurrency, 2) + "x";
}

}  // namespace

ModelPlan plan_for_model(const ModelConfig& config, DType dtype, const PlanSettings& settings) {
  validate(settings);
  ModelPlan p;
  p.dtype = dtype;
  p.num_parameters = count_parameters(config);
  p.weights_bytes = static_cast<size_t>(p.num_parameters) * dtype_size(dtype);
  p.activation_bytes = estimate_activation_bytes(config, settings.max_num_batched_tokens, settings.max_num_seqs);
  p.max_model_len = settings.max_model_len > 0 ? settings.max_model_len : config.max_position_embeddings;
  check(p.max_model_len > 0, "--max-model-len is required: the config has no max_position_embeddings");
  p.kv = kv_layout_for_model(config, dtype);
  p.inputs.device_memory_bytes = settings.device_memory_bytes;
  p.inputs.gpu_memory_utilization = settings.gpu_memory_utilization;
  p.inputs.kv_cache_memory = settings.kv_cache_memory;
  p.inputs.weights_bytes = p.weights_bytes;
  p.inputs.activation_bytes = p.activation_bytes;
  p.inputs.block_size = settings.block_size;
  p.inputs.max_model_len = p.max_model_len;
  p.capacity = plan_capacity(p.kv, p.inputs);
  return p;
}

std::vector<std::string> format_plan_lines(const ModelPlan& p) {
  std::vector<std::string> lines;
  lines.push_back("Model weights take " + format_gib(static_cast<double>(p.weights_bytes)) + " (" +
                  with_thousands(p.num_parameters) + " parameters, " + std::string(dtype_name(p.dtype)) + ")");
  lines.push_back("Peak activations take " + format_gib(static_cast<double>(p.activation_bytes)) + " (estimate)");
  if (!p.inputs.kv_cache_memory)
    lines.push_back("Desired memory utilization is (" + fixed(p.inputs.gpu_memory_utilization, 2) + ", " +
                    format_gib(static_cast<double>(p.capacity.requested_bytes)) + ") of " +
                    format_gib(static_cast<double>(p.inputs.device_memory_bytes)));
  lines.push_back("Available KV cache memory: " +
                  format_gib(static_cast<double>(std::max<int64_t>(p.capacity.kv_cache_bytes, 0))));
  lines.push_back(format_kv_cache_size_line(p.capacity));
  lines.push_back(format_max_concurrency_line(p.capacity, p.max_model_len));
  return lines;
}

std::vector<PlanTableCell> plan_table(const ModelConfig& config, DType dtype, const PlanSettings& settings,
                                      const std::vector<int>& lens, const std::vector<double>& utilizations) {
  std::vector<double> columns = settings.kv_cache_memory ? std::vector<double>{0.0} : utilizations;
  std::vector<PlanTableCell> cells;
  for (int len : lens) {
    for (double util : columns) {
      PlanSettings s = settings;
      s.max_model_len = len;
      if (util > 0) s.gpu_memory_utilization = util;
      PlanTableCell cell;
      cell.max_model_len = len;
      cell.gpu_memory_utilization = util;
      cell.beyond_model_max = config.max_position_embeddings > 0 && len > config.max_position_embeddings;
      cell.capacity = plan_for_model(config, dtype, s).capacity;
      cells.push_back(cell);
    }
  }
  return cells;
}

std::string format_plan_text(const ModelConfig& config, const ModelPlan& p, const std::vector<PlanTableCell>& table) {
  std::string out = "Model: " + config.architecture + ", " + std::to_string(config.num_hidden_layers) +
                    " layers, hidden " + std::to_string(config.hidden_size) + ", max_position_embeddings " +
                    with_thousands(config.max_position_embeddings) + "\n";
  for (const std::string& line : format_plan_lines(p)) out += line + "\n";
  out += "KV bytes per token: " + with_thousands(static_cast<int64_t>(p.capacity.bytes_per_token)) + " (2 x " +
         std::to_string(p.kv.num_layers) + " layers x " + std::to_string(p.kv.num_kv_heads) + " KV heads x " +
         std::to_string(p.kv.head_dim) + " head_dim x " + std::to_string(p.kv.dtype_bytes) + " bytes); block of " +
         std::to_string(p.inputs.block_size) + " tokens = " +
         with_thousands(static_cast<int64_t>(p.capacity.bytes_per_block)) + " bytes\n";
  if (!p.kv.layer_window.empty())
    out += "Note: some layers use a sliding window; this plan reserves full-length KV for every layer.\n";
  if (table.empty()) return out;

  // Columns: one per distinct utilization, in table order.
  std::vector<double> utils;
  for (const PlanTableCell& c : table)
    if (std::find(utils.begin(), utils.end(), c.gpu_memory_utilization) == utils.end()) utils.push_back(c.gpu_memory_utilization);
  out += "\nMaximum concurrency (requests of max-model-len tokens that fit in the KV cache):\n";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-15s", "max-model-len");
  out += buf;
  for (double u : utils) {
    const std::string head = u > 0 ? "util " + fixed(u, 2) : "kv " + format_gib(static_cast<double>(*p.inputs.kv_cache_memory));
    std::snprintf(buf, sizeof buf, "%14s", head.c_str());
    out += buf;
  }
  out += "\n";
  bool any_beyond = false, any_unfit = false;
  for (size_t i = 0; i < table.size(); i += utils.size()) {
    std::snprintf(buf, sizeof buf, "%-15s", with_thousands(table[i].max_model_len).c_str());
    out += buf;
    for (size_t j = 0; j < utils.size() && i + j < table.size(); ++j) {
      any_beyond = any_beyond || table[i + j].beyond_model_max;
      any_unfit = any_unfit || (!table[i + j].beyond_model_max && !table[i + j].capacity.fits_one_request);
      std::snprintf(buf, sizeof buf, "%14s", cell_text(table[i + j]).c_str());
      out += buf;
    }
    out += "\n";
  }
  if (any_unfit) out += "-   : one request of that length does not fit\n";
  if (any_beyond) out += "n/a : longer than the model's max_position_embeddings\n";
  return out;
}

nlohmann::ordered_json plan_json(const ModelConfig& config, const ModelPlan& p, const std::vector<PlanTableCell>& table) {
  auto add_capacity = [](nlohmann::ordered_json& j, const CapacityPlan& c) {
    j["kv_cache_bytes"] = c.kv_cache_bytes;
    j["num_blocks"] = c.num_blocks;
    j["kv_cache_tokens"] = c.kv_tokens;
    j["blocks_per_request"] = c.blocks_per_request;
    j["max_concurrency"] = c.max_concurrency;
    j["fits_one_request"] = c.fits_one_request;
    j["estimated_max_model_len"] = c.estimated_max_model_len;
  };
  nlohmann::ordered_json j;
  j["architecture"] = config.architecture;
  j["dtype"] = std::string(dtype_name(p.dtype));
  j["num_parameters"] = p.num_parameters;
  j["weights_bytes"] = p.weights_bytes;
  j["activation_bytes"] = p.activation_bytes;
  j["device_memory_bytes"] = p.inputs.device_memory_bytes;
  j["gpu_memory_utilization"] = p.inputs.gpu_memory_utilization;
  j["kv_cache_memory"] = p.inputs.kv_cache_memory ? nlohmann::ordered_json(*p.inputs.kv_cache_memory) : nullptr;
  j["requested_bytes"] = p.capacity.requested_bytes;
  j["block_size"] = p.inputs.block_size;
  j["max_model_len"] = p.max_model_len;
  j["max_position_embeddings"] = config.max_position_embeddings;
  j["kv_bytes_per_token"] = p.capacity.bytes_per_token;
  j["kv_bytes_per_block"] = p.capacity.bytes_per_block;
  add_capacity(j, p.capacity);
  j["log_lines"] = format_plan_lines(p);
  nlohmann::ordered_json cells = nlohmann::ordered_json::array();
  for (const PlanTableCell& c : table) {
    nlohmann::ordered_json cell{{"max_model_len", c.max_model_len}};
    cell["gpu_memory_utilization"] = c.gpu_memory_utilization > 0 ? nlohmann::ordered_json(c.gpu_memory_utilization) : nullptr;
    cell["beyond_model_max"] = c.beyond_model_max;
    add_capacity(cell, c.capacity);
    cells.push_back(cell);
  }
  j["table"] = cells;
  return j;
}

}  // namespace serval
