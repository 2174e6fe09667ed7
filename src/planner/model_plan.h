// Capacity plan for one model: weights memory from the config (parameter count x dtype bytes), a peak
// activation estimate, the KV layout, and plan_capacity's numbers. `serval plan` prints it and
// `serval serve` logs it at start-up from the SAME plan_for_model call, so the two never disagree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "model/model_config.h"
#include "planner/capacity.h"

namespace serval {

// The serving flags that shape capacity (vLLM's names), one struct for `plan` and `serve`.
struct PlanSettings {
  size_t device_memory_bytes = 0;          // total device memory (--device-memory, or what the device reports)
  double gpu_memory_utilization = 0.9;     // --gpu-memory-utilization, in (0, 1]
  std::optional<size_t> kv_cache_memory;   // --kv-cache-memory: explicit KV budget, wins over utilization
  int max_model_len = 0;                   // --max-model-len; 0 = the model's max_position_embeddings
  int block_size = 16;                     // --block-size
  int max_num_batched_tokens = 2048;       // --max-num-batched-tokens: tokens in one step (sizes activations)
  int max_num_seqs = 256;                  // --max-num-seqs: most sequences in one step (sizes the logits)
};

struct ModelPlan {
  DType dtype = DType::BF16;     // weights and KV dtype
  int64_t num_parameters = 0;    // every tensor the loader keeps (a tied embedding counted once)
  size_t weights_bytes = 0;      // num_parameters x dtype bytes == Model::weight_bytes() after load
  size_t activation_bytes = 0;   // estimate_activation_bytes(config, max_num_batched_tokens, max_num_seqs)
  int max_model_len = 0;         // resolved (settings' value, or the model's max_position_embeddings)
  KvLayout kv;                   // KV layout of the model in `dtype`
  CapacityInputs inputs;         // what plan_capacity was given
  CapacityPlan capacity;         // its answer
};

// Parameters the loader holds for this config: embeddings, lm_head unless tied, every projection,
// bias and norm. Exact for Llama / Qwen2 (what Model::load reads); Gemma-2 / Phi-2 follow their HF layouts.
int64_t count_parameters(const ModelConfig& config);
// Peak scratch of one forward step on the CPU decoder: float32 activations for max_num_batched_tokens
// tokens (residual, norms, q/k/v, attention out, MLP gate/up, RoPE tables) plus the logit rows
// (min(tokens, max_num_seqs) x vocab floats).
size_t estimate_activation_bytes(const ModelConfig& config, int max_num_batched_tokens, int max_num_seqs);
// KV layout (layers, KV heads, head_dim, dtype bytes, per-layer sliding windows) of a model.
KvLayout kv_layout_for_model(const ModelConfig& config, DType kv_dtype);
// vLLM's --dtype against the config's torch_dtype (absent: float32, so "auto" gives float16).
// Throws serval::Error on an unknown name.
DType plan_dtype(const ModelConfig& config, const std::string& requested);

// The whole plan. Throws serval::Error naming the flag when a setting is out of range. Does NOT throw
// when nothing fits: check plan.capacity.fits_one_request and refuse with format_does_not_fit_message.
ModelPlan plan_for_model(const ModelConfig& config, DType dtype, const PlanSettings& settings);

// Throws serval::Error (vLLM's wording) when max_model_len exceeds the model's max_position_embeddings.
void check_max_model_len(const ModelConfig& config, int max_model_len);

// The lines `serve` logs and `plan` prints, in order: weights, activations, available KV memory, then
// format_kv_cache_size_line and format_max_concurrency_line verbatim.
std::vector<std::string> format_plan_lines(const ModelPlan& plan);

// One cell of the max-model-len x utilization table.
struct PlanTableCell {
  int max_model_len = 0;
  double gpu_memory_utilization = 0;  // 0 when the table is over an explicit --kv-cache-memory
  bool beyond_model_max = false;      // max_model_len > the model's max_position_embeddings
  CapacityPlan capacity;
};

// The table over lens x utilizations (utilizations ignored when settings.kv_cache_memory is set: one
// column). Rows in lens order, columns in utilizations order.
std::vector<PlanTableCell> plan_table(const ModelConfig& config, DType dtype, const PlanSettings& settings,
                                      const std::vector<int>& lens, const std::vector<double>& utilizations);

// `serval plan -o text`: the lines, the KV layout, and the table as aligned text (max concurrency per cell).
std::string format_plan_text(const ModelConfig& config, const ModelPlan& plan, const std::vector<PlanTableCell>& table);
// `serval plan -o json`.
nlohmann::ordered_json plan_json(const ModelConfig& config, const ModelPlan& plan, const std::vector<PlanTableCell>& table);

}  // namespace serval
