// `serval serve MODEL_DIR`: vLLM's `vllm serve` flags (and --config FILE.yaml with the same keys) onto a
// ServeRuntime; then waits for SIGINT/SIGTERM and shuts down gracefully (exit 0).
#include <csignal>
#include <cstdlib>
#include <memory>
#include <pthread.h>

#include "cli/commands.h"
#include "cli/serve_runtime.h"
#include "cli/yaml_config.h"
#include "core/error.h"
#include "core/log.h"

namespace serval::cli {

void add_serve_command(CLI::App& app) {
  struct Options {
    ServeOptions serve;
    int max_num_batched_tokens = 0;
    double shutdown_timeout_s = 30.0;
    double swap_space = 4.0;
    std::string device_memory;
  };
  auto o = std::make_shared<Options>();
  ServeOptions& s = o->serve;
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model with an OpenAI-compatible HTTP API (vLLM's flags)");
  auto config_file = std::make_shared<std::string>();
  cmd->add_option("--config", *config_file,
                  "YAML file of flags (same names, dashes or underscores); flags override it");
  cmd->add_option("model_dir", s.model_dir, "Hugging Face model directory")->required();
  cmd->add_option("--host", s.host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", s.port, "Port to bind (0 = any free port, logged)")->capture_default_str();
  cmd->add_option("--served-model-name", s.served_model_names,
                  "Model name(s) the API accepts; the first is reported (default: MODEL_DIR)");
  cmd->add_option("--max-model-len", s.max_model_len,
                  "Prompt + output tokens per request (e.g. 4096, 4k, 4K; default: the model's)");
  cmd->add_option("--max-num-seqs", s.max_num_seqs, "Sequences in one step at most")->capture_default_str();
  auto* mnbt = cmd->add_option("--max-num-batched-tokens", o->max_num_batched_tokens,
                               "Tokens in one step at most (default 2048; max(max-model-len, 2048) without "
                               "chunked prefill)");
  cmd->add_option("--block-size", s.block_size, "Tokens per KV cache block")->capture_default_str();
  cmd->add_option("--gpu-memory-utilization", s.gpu_memory_utilization,
                  "Fraction of device memory (RAM on CPU) for weights, activations and KV cache")
      ->capture_default_str();
  cmd->add_option("--kv-cache-memory", s.kv_cache_memory, "KV cache size (e.g. 4GiB); wins over the utilization");
  cmd->add_option("--device-memory", o->device_memory,
                  "Device memory to plan for instead of the machine's RAM (e.g. 16GiB)");
  cmd->add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", s.enable_prefix_caching,
                "Reuse KV blocks of shared prompt prefixes (default on)");
  cmd->add_flag("--enable-chunked-prefill,!--no-enable-chunked-prefill", s.enable_chunked_prefill,
                "Split long prompts across steps (default on)");
  cmd->add_flag("--enforce-eager", s.enforce_eager, "Accepted for vLLM compatibility (CPU always runs eagerly)");
  cmd->add_option("--dtype", s.dtype, "auto, bfloat16, float16 or float32 (vLLM's meaning)")->capture_default_str();
  cmd->add_option("--quantization", s.quantization, "Quantize weights at load: int8 or int4 (default: none)");
  cmd->add_option("--seed", s.seed, "Seeds requests that bring no seed")->capture_default_str();
  cmd->add_option("--api-key", s.api_keys, "Require 'Authorization: Bearer KEY' on /v1/* (also SERVAL_API_KEY)");
  cmd->add_option("--chat-template", s.chat_template, "Chat template file (or inline Jinja) instead of the model's");
  cmd->add_option("--generation-config", s.generation_config,
                  "auto (model's generation_config.json sets default sampling), vllm (ignore it) or a directory")
      ->capture_default_str();
  cmd->add_flag("--disable-log-requests", s.disable_log_requests, "Do not log each request");
  cmd->add_flag("--disable-log-stats", s.disable_log_stats, "Do not log throughput every 10 s");
  cmd->add_option("-t,--threads", s.threads, "Compute threads (default: all cores)");
  cmd->add_option("--max-logprobs", s.max_logprobs, "Largest logprobs / top_logprobs a request may ask")
      ->capture_default_str();
  cmd->add_option("--io-threads", s.io_threads, "HTTP I/O threads")->capture_default_str();
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout_s,
                  "Seconds in-flight requests get to finish after SIGINT/SIGTERM")
      ->capture_default_str();
  cmd->add_option("--swap-space", o->swap_space, "Accepted for vLLM compatibility; preemption recomputes");

  cmd->callback([o, mnbt, cmd, config_file] {
    if (!config_file->empty()) apply_yaml_config(*cmd, *config_file);
    ServeOptions opts = o->serve;
    if (mnbt->count() > 0) opts.max_num_batched_tokens = o->max_num_batched_tokens;
    if (!o->device_memory.empty()) opts.device_memory_bytes = parse_memory_size(o->device_memory);
    if (opts.api_keys.empty())
      if (const char* key = std::getenv("SERVAL_API_KEY"); key != nullptr && *key != '\0') opts.api_keys = {key};
    check(o->shutdown_timeout_s >= 0, "--shutdown-timeout must be >= 0");

    // Block SIGINT/SIGTERM before any thread starts, so every thread inherits the mask and this one takes
    // them with sigwait.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    ServeRuntime runtime(opts);
    runtime.start();
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("Received {}; no longer accepting requests", sig == SIGINT ? "SIGINT" : "SIGTERM");
    runtime.shutdown(std::chrono::milliseconds(static_cast<int64_t>(o->shutdown_timeout_s * 1000)));
    spdlog::info("Shutdown complete.");
  });
}

}  // namespace serval::cli
