#include "planner/capacity.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace serval {

size_t kv_bytes_per_token(const KvLayout& kv) {
  return static_cast<size_t>(2) * static_cast<size_t>(kv.num_layers) * static_cast<size_t>(kv.num_kv_heads) *
         static_cast<size_t>(kv.head_dim) * kv.dtype_bytes;
}

CapacityPlan plan_capacity(const KvLayout& kv, const CapacityInputs& in) {
  CapacityPlan p;
  p.requested_bytes = static_cast<size_t>(static_cast<double>(in.device_memory_bytes) * in.gpu_memory_utilization);
  if (in.kv_cache_memory) {
    p.kv_cache_bytes = static_cast<int64_t>(*in.kv_cache_memory);
  } else {
    p.kv_cache_bytes = static_cast<int64_t>(p.requested_bytes) - static_cast<int64_t>(in.weights_bytes) -
                       static_cast<int64_t>(in.activation_bytes);
  }
  p.bytes_per_token = kv_bytes_per_token(kv);
  p.bytes_per_block = p.bytes_per_token * static_cast<size_t>(in.block_size);
  p.num_blocks = p.kv_cache_bytes > 0 && p.bytes_per_block > 0
                     ? p.kv_cache_bytes / static_cast<int64_t>(p.bytes_per_block)
                     : 0;
  p.kv_tokens = p.num_blocks * in.block_size;
  p.blocks_per_request = (in.max_model_len + in.block_size - 1) / in.block_size;
  p.max_concurrency =
      p.blocks_per_request > 0 ? static_cast<double>(p.num_blocks) / static_cast<double>(p.blocks_per_request) : 0.0;
  p.fits_one_request = p.num_blocks >= p.blocks_per_request && p.num_blocks > 0;
  p.estimated_max_model_len = p.kv_tokens;
  return p;
}

std::string with_thousands(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count > 0 && count % 3 == 0) out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++count;
  }
  return v < 0 ? "-" + out : out;
}

std::string format_gib(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string format_kv_cache_size_line(const CapacityPlan& plan) {
  return "KV cache size: " + with_thousands(plan.kv_tokens) + " tokens";
}

std::string format_max_concurrency_line(const CapacityPlan& plan, int max_model_len) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "Maximum concurrency for %s tokens per request: %.2fx",
                with_thousands(max_model_len).c_str(), plan.max_concurrency);
  return buf;
}

std::string format_does_not_fit_message(const CapacityPlan& plan, int max_model_len) {
  if (plan.kv_cache_bytes <= 0)
    return "No available memory for the cache blocks (weights and activations need more than the budget of " +
           format_gib(static_cast<double>(plan.requested_bytes)) +
           "). Try increasing --gpu-memory-utilization or setting --kv-cache-memory.";
  const double needed = static_cast<double>(plan.blocks_per_request) * static_cast<double>(plan.bytes_per_block);
  return "To serve at least one request with the model's max seq len (" + std::to_string(max_model_len) + "), " +
         format_gib(needed) + " KV cache is needed, which is larger than the available KV cache memory (" +
         format_gib(static_cast<double>(plan.kv_cache_bytes)) +
         "). Based on the available memory, the estimated maximum model length is " +
         std::to_string(plan.estimated_max_model_len) +
         ". Try increasing --gpu-memory-utilization (or --kv-cache-memory) or decreasing --max-model-len.";
}

namespace {
std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Splits "12.5GiB" into 12.5 and "GiB". Throws when there is no leading number.
std::pair<double, std::string> split_number(const std::string& text, const std::string& what) {
  std::string t = trim(text);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    throw Error("invalid " + what + " '" + text + "'");
  }
  if (!std::isfinite(v) || v < 0) throw Error("invalid " + what + " '" + text + "'");
  return {v, trim(t.substr(used))};
}
}  // namespace

size_t parse_memory_size(const std::string& text) {
  auto [v, unit] = split_number(text, "memory size");
  std::string u;
  for (char c : unit) u += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!u.empty() && u.back() == 'b') u.pop_back();  // "GiB" -> "gi", "GB" -> "g", "B" -> ""
  double mult;
  if (u.empty()) mult = 1;
  else if (u == "k") mult = 1e3;
  else if (u == "m") mult = 1e6;
  else if (u == "g") mult = 1e9;
  else if (u == "t") mult = 1e12;
  else if (u == "ki") mult = 1024.0;
  else if (u == "mi") mult = 1024.0 * 1024;
  else if (u == "gi") mult = 1024.0 * 1024 * 1024;
  else if (u == "ti") mult = 1024.0 * 1024 * 1024 * 1024;
  else throw Error("invalid memory size '" + text + "' (use e.g. 16GiB, 8G, 512MiB or a byte count)");
  return static_cast<size_t>(std::llround(v * mult));
}

int64_t parse_human_int(const std::string& text) {
  auto [v, unit] = split_number(text, "number");
  double mult;
  if (unit.empty()) mult = 1;
  else if (unit == "k") mult = 1e3;
  else if (unit == "K") mult = 1024;
  else if (unit == "m") mult = 1e6;
  else if (unit == "M") mult = 1024.0 * 1024;
  else if (unit == "g") mult = 1e9;
  else if (unit == "G") mult = 1024.0 * 1024 * 1024;
  else throw Error("invalid number '" + text + "' (use e.g. 4096, 4k = 4000, 4K = 4096)");
  double r = v * mult;
  if (unit.empty() && r != std::floor(r)) throw Error("invalid number '" + text + "' (not an integer)");
  return static_cast<int64_t>(std::llround(r));
}

}  // namespace serval
