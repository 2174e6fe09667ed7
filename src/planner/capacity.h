// Capacity arithmetic: KV bytes per token, KV budget from memory flags, KV capacity in tokens and
// maximum concurrency. Pure functions: `serval serve` logs and `serval plan` prints the same numbers
// because both call these (vLLM's method, see docs/ARCHITECTURE.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace serval {

// What the KV cache of one model looks like, derived from its config and the KV dtype.
struct KvLayout {
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  size_t dtype_bytes = 2;
  // Per layer: sliding-window size in tokens, 0 for full attention. Empty = all full.
  std::vector<int> layer_window;
};

// Bytes of K and V for one token over all layers (vLLM: 2 x layers x kv_heads x head_dim x dtype).
size_t kv_bytes_per_token(const KvLayout& kv);

struct CapacityInputs {
  size_t device_memory_bytes = 0;           // total device memory (GPU memory, or RAM on CPU)
  double gpu_memory_utilization = 0.9;      // fraction of device memory serval may use in total
  std::optional<size_t> kv_cache_memory;    // --kv-cache-memory: explicit KV budget, wins over utilization
  size_t weights_bytes = 0;                 // memory held by weights
  size_t activation_bytes = 0;              // peak activations for one step of max_num_batched_tokens
  int block_size = 16;                      // tokens per KV block
  int max_model_len = 4096;                 // tokens per request (prompt + output)
};

struct CapacityPlan {
  size_t requested_bytes = 0;      // device memory x utilization
  int64_t kv_cache_bytes = 0;      // available KV memory (may be <= 0: nothing left)
  size_t bytes_per_token = 0;      // kv_bytes_per_token
  size_t bytes_per_block = 0;      // bytes_per_token x block_size
  int64_t num_blocks = 0;          // floor(kv_cache_bytes / bytes_per_block)
  int64_t kv_tokens = 0;           // num_blocks x block_size ("KV cache size: N tokens")
  int64_t blocks_per_request = 0;  // ceil(max_model_len / block_size)
  double max_concurrency = 0.0;    // num_blocks / blocks_per_request
  bool fits_one_request = false;   // at least one request of max_model_len fits
  int64_t estimated_max_model_len = 0;  // the longest request that would fit (for the error message)
};

CapacityPlan plan_capacity(const KvLayout& kv, const CapacityInputs& in);

// vLLM's start-up lines, e.g. "KV cache size: 1,587,648 tokens" and
// "Maximum concurrency for 2,048 tokens per request: 775.22x".
std::string format_kv_cache_size_line(const CapacityPlan& plan);
std::string format_max_concurrency_line(const CapacityPlan& plan, int max_model_len);
// The refusal when one request of max_model_len does not fit, naming both numbers and the flags to change.
std::string format_does_not_fit_message(const CapacityPlan& plan, int max_model_len);

// "1,587,648"
std::string with_thousands(int64_t v);
// Bytes as GiB with two decimals: "33.31 GiB".
std::string format_gib(double bytes);

// Parses a memory size: plain bytes, or with a unit K/M/G/T (powers of 1000), KiB/MiB/GiB/TiB or
// Ki/Mi/Gi (powers of 1024), e.g. "16GiB", "8G", "512MiB". Throws serval::Error naming the text.
size_t parse_memory_size(const std::string& text);
// Parses vLLM's human-readable ints: "4096", "4k" (4000), "4K" (4096), "25.6k", "1m"/"1M".
int64_t parse_human_int(const std::string& text);

}  // namespace serval
