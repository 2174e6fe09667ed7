// `serval plan`: capacity from a model's config and the memory flags, without loading weights: weights
// memory, KV bytes per token, KV capacity, max concurrency at --max-model-len, and the table over
// max-model-len x utilization. The numbers come from plan_for_model, which `serval serve` logs too.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "planner/device_presets.h"
#include "planner/model_plan.h"

namespace serval::cli {

namespace {

struct PlanFlags {
  std::string model_dir;
  std::string config_json;
  std::string device_memory;
  std::string kv_cache_memory;
  double gpu_memory_utilization = 0.9;
  std::string max_model_len = "4096";
  std::string dtype = "auto";
  int block_size = 16;
  int max_num_batched_tokens = 2048;
  int max_num_seqs = 256;
  std::string output = "text";
};

ModelConfig read_config(const PlanFlags& f) {
  check(f.model_dir.empty() != f.config_json.empty(), "give exactly one of MODEL_DIR or --config-json FILE");
  if (!f.model_dir.empty()) return load_model_config(f.model_dir);
  std::ifstream in(f.config_json);
  check(in.good(), "--config-json: cannot open '" + f.config_json + "'");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  check(!j.is_discarded() && j.is_object(), "--config-json: '" + f.config_json + "' is not a JSON object");
  return parse_model_config(j, f.config_json);
}

void run(const PlanFlags& f) {
  check(f.output == "text" || f.output == "json", "-o must be text or json, got '" + f.output + "'");
  const ModelConfig config = read_config(f);
  PlanSettings s;
  check(!f.device_memory.empty() || !f.kv_cache_memory.empty(),
        "give --device-memory (e.g. 16GiB or h100-80gb) or --kv-cache-memory SIZE");
  if (!f.device_memory.empty()) s.device_memory_bytes = parse_device_memory(f.device_memory);
  if (!f.kv_cache_memory.empty()) s.kv_cache_memory = parse_memory_size(f.kv_cache_memory);
  s.gpu_memory_utilization = f.gpu_memory_utilization;
  const int64_t len = parse_human_int(f.max_model_len);
  check(len > 0 && len <= (int64_t{1} << 30), "--max-model-len must be a positive length, got '" + f.max_model_len + "'");
  s.max_model_len = static_cast<int>(len);
  s.block_size = f.block_size;
  s.max_num_batched_tokens = f.max_num_batched_tokens;
  s.max_num_seqs = f.max_num_seqs;
  check_max_model_len(config, s.max_model_len);

  const DType dtype = plan_dtype(config, f.dtype);
  const ModelPlan plan = plan_for_model(config, dtype, s);
  const std::vector<PlanTableCell> table =
      plan_table(config, dtype, s, {2048, 4096, 8192, 16384, 32768}, {0.3, 0.6, 0.9});
  if (f.output == "json") std::puts(plan_json(config, plan, table).dump(2).c_str());
  else std::fputs(format_plan_text(config, plan, table).c_str(), stdout);
  std::fflush(stdout);
  check(plan.capacity.fits_one_request, format_does_not_fit_message(plan.capacity, plan.max_model_len));
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto f = std::make_shared<PlanFlags>();
  CLI::App* cmd = app.add_subcommand("plan", "KV capacity and max concurrency for a model and a memory budget");
  cmd->add_option("model_dir", f->model_dir, "Model directory with config.json");
  cmd->add_option("--config-json", f->config_json, "A Hugging Face config.json instead of a model directory");
  std::string names;
  for (const DevicePreset& p : device_presets()) names += (names.empty() ? "" : ", ") + p.name;
  cmd->add_option("--device-memory", f->device_memory, "Device memory: a size (16GiB) or a device (" + names + ")");
  cmd->add_option("--kv-cache-memory", f->kv_cache_memory, "Explicit KV cache budget (wins over utilization), e.g. 8GiB");
  cmd->add_option("--gpu-memory-utilization", f->gpu_memory_utilization, "Fraction of device memory to use")
      ->capture_default_str();
  cmd->add_option("--max-model-len", f->max_model_len, "Tokens per request (prompt + output); 4k = 4000, 4K = 4096")
      ->capture_default_str();
  cmd->add_option("--dtype", f->dtype, "auto, bfloat16, float16 or float32 (vLLM's meaning)")->capture_default_str();
  cmd->add_option("--block-size", f->block_size, "Tokens per KV block")->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", f->max_num_batched_tokens, "Tokens per step (sizes activations)")
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", f->max_num_seqs, "Sequences per step (sizes the logits)")->capture_default_str();
  cmd->add_option("-o,--output", f->output, "text or json")->capture_default_str();
  cmd->callback([f] { run(*f); });
}

}  // namespace serval::cli
