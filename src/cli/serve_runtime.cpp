// ServeRuntime: load -> plan -> engine -> server, logging what vLLM logs at each stage.
#include "cli/serve_runtime.h"

#include <algorithm>
#include <climits>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mapped_file.h"
#include "core/system_memory.h"
#include "core/thread_pool.h"
#include "model/generation_config.h"

namespace serval::cli {

namespace {

using Clock = std::chrono::steady_clock;

double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

void validate(const ServeOptions& o) {
  check(!o.model_dir.empty(), "serve needs a model directory");
  check(o.port >= 0 && o.port <= 65535, "--port must be in [0, 65535], got " + std::to_string(o.port));
  check(o.gpu_memory_utilization > 0.0 && o.gpu_memory_utilization <= 1.0,
        fmt::format("--gpu-memory-utilization must be in (0, 1], got {}", o.gpu_memory_utilization));
  check(o.block_size > 0 && o.block_size <= 1024 && (o.block_size & (o.block_size - 1)) == 0,
        "--block-size must be a power of two in [1, 1024], got " + std::to_string(o.block_size));
  check(o.max_num_seqs > 0, "--max-num-seqs must be > 0, got " + std::to_string(o.max_num_seqs));
  check(!o.max_num_batched_tokens || *o.max_num_batched_tokens > 0,
        "--max-num-batched-tokens must be > 0, got " + std::to_string(o.max_num_batched_tokens.value_or(0)));
  check(o.max_logprobs >= 0, "--max-logprobs must be >= 0, got " + std::to_string(o.max_logprobs));
  check(o.threads >= 0, "--threads must be >= 0, got " + std::to_string(o.threads));
  check(o.io_threads > 0, "--io-threads must be > 0, got " + std::to_string(o.io_threads));
  check(o.generation_config == "auto" || o.generation_config == "vllm" ||
            std::filesystem::is_directory(o.generation_config),
        "--generation-config must be auto, vllm or a directory holding generation_config.json, got '" +
            o.generation_config + "'");
}

// --chat-template: a file, or the template itself (vLLM accepts both).
std::string read_chat_template(const std::string& arg) {
  if (std::filesystem::is_regular_file(arg)) return read_text_file(arg);
  check(arg.find("{{") != std::string::npos || arg.find("{%") != std::string::npos,
        "--chat-template: '" + arg + "' is neither a readable file nor a Jinja template");
  return arg;
}

// Python-dict rendering of the defaults, as vLLM logs them.
std::string format_defaults(const GenerationConfig& g) {
  std::vector<std::string> items;
  if (g.min_p) items.push_back(fmt::format("'min_p': {}", *g.min_p));
  if (g.repetition_penalty) items.push_back(fmt::format("'repetition_penalty': {}", *g.repetition_penalty));
  if (g.temperature) items.push_back(fmt::format("'temperature': {}", *g.temperature));
  if (g.top_k) items.push_back(fmt::format("'top_k': {}", *g.top_k));
  if (g.top_p) items.push_back(fmt::format("'top_p': {}", *g.top_p));
  return "{" + fmt::format("{}", fmt::join(items, ", ")) + "}";
}

SamplingParams default_params(const GenerationConfig& g) {
  SamplingParams p;
  if (g.temperature) p.temperature = static_cast<float>(*g.temperature);
  if (g.top_p) p.top_p = static_cast<float>(*g.top_p);
  if (g.top_k) p.top_k = static_cast<int>(*g.top_k);
  if (g.min_p) p.min_p = static_cast<float>(*g.min_p);
  if (g.repetition_penalty) p.repetition_penalty = static_cast<float>(*g.repetition_penalty);
  return p;
}

}  // namespace

ServeRuntime::ServeRuntime(const ServeOptions& options) : options_(options) {
  validate(options_);
  if (options_.served_model_names.empty()) options_.served_model_names = {options_.model_dir};
  set_num_threads(options_.threads);
  spdlog::info("serval API server version {}", SERVAL_VERSION);

  // Device memory: the machine's RAM on CPU (read before loading, like vLLM's free-memory snapshot).
  const SystemMemory ram = read_system_memory();
  const size_t device_memory = options_.device_memory_bytes.value_or(ram.total_bytes);

  const Clock::time_point t0 = Clock::now();
  model_ = Model::load(options_.model_dir, LoadOptions{.dtype = options_.dtype, .quantization = options_.quantization});
  tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_dir(options_.model_dir));
  const ModelConfig& config = model_->config();
  spdlog::info("Model loading took {:.4f} GiB memory and {:.6f} seconds", gib(static_cast<double>(model_->weight_bytes())),
               std::chrono::duration<double>(Clock::now() - t0).count());

  if (!options_.chat_template.empty()) {
    const std::optional<ChatTemplate> from_dir = ChatTemplate::from_model_dir(options_.model_dir);
    chat_template_.emplace(read_chat_template(options_.chat_template), from_dir ? from_dir->bos_token() : "",
                           from_dir ? from_dir->eos_token() : "");
  } else {
    chat_template_ = ChatTemplate::from_model_dir(options_.model_dir);
    if (!chat_template_)
      spdlog::warn("{} has no chat template: /v1/chat/completions will answer 400 (pass --chat-template)",
                   options_.model_dir);
  }

  // The memory plan: the same function `serval plan` prints.
  PlanSettings settings;
  settings.device_memory_bytes = device_memory;
  settings.gpu_memory_utilization = options_.gpu_memory_utilization;
  if (!options_.kv_cache_memory.empty()) settings.kv_cache_memory = parse_memory_size(options_.kv_cache_memory);
  if (!options_.max_model_len.empty()) {
    const int64_t len = parse_human_int(options_.max_model_len);
    check(len > 0 && len <= INT_MAX, "--max-model-len must be a positive token count, got " + options_.max_model_len);
    settings.max_model_len = static_cast<int>(len);
    check_max_model_len(config, settings.max_model_len);
  }
  settings.block_size = options_.block_size;
  settings.max_num_seqs = options_.max_num_seqs;
  const int resolved_len = settings.max_model_len > 0 ? settings.max_model_len : config.max_position_embeddings;
  settings.max_num_batched_tokens =
      options_.max_num_batched_tokens.value_or(options_.enable_chunked_prefill ? 2048 : std::max(resolved_len, 2048));
  plan_ = plan_for_model(config, model_->dtype(), settings);
  if (model_->weight_bytes() != plan_.weights_bytes) {
    // --quantization: the weights take what the loader holds, not parameters x dtype bytes.
    plan_.weights_bytes = model_->weight_bytes();
    plan_.inputs.weights_bytes = model_->weight_bytes();
    plan_.capacity = plan_capacity(plan_.kv, plan_.inputs);
  }
  spdlog::info("Using max model len {}", plan_.max_model_len);
  if (options_.enable_chunked_prefill)
    spdlog::info("Chunked prefill is enabled with max_num_batched_tokens={}.", settings.max_num_batched_tokens);
  if (!settings.kv_cache_memory && ram.available_bytes < plan_.capacity.requested_bytes && !options_.device_memory_bytes)
    spdlog::warn(
        "Free memory on device ({:.2f}/{:.2f} GiB) on startup is less than desired GPU memory utilization ({}, "
        "{:.2f} GiB). The KV cache is committed as it fills, so under full load the machine may swap. Decrease "
        "--gpu-memory-utilization or set --kv-cache-memory.",
        gib(static_cast<double>(ram.available_bytes)), gib(static_cast<double>(ram.total_bytes)),
        options_.gpu_memory_utilization, gib(static_cast<double>(plan_.capacity.requested_bytes)));
  if (!plan_.capacity.fits_one_request) throw Error(format_does_not_fit_message(plan_.capacity, plan_.max_model_len));
  check(plan_.capacity.num_blocks <= INT_MAX, "the KV cache would have more than 2^31 blocks; raise --block-size");
  for (const std::string& line : format_plan_lines(plan_)) spdlog::info("{}", line);

  // Generation defaults (vLLM's --generation-config).
  GenerationConfig gen;
  if (options_.generation_config == "auto") gen = model_->generation_config();
  else if (options_.generation_config != "vllm") gen = load_generation_config(options_.generation_config);
  const SamplingParams defaults = default_params(gen);
  defaults.validate();
  const std::string defaults_text = format_defaults(gen);
  if (options_.generation_config != "vllm" && defaults_text != "{}") {
    spdlog::warn(
        "Default sampling parameters have been overridden by the model's Hugging Face generation config "
        "recommended from the model creator. If this is not intended, please relaunch serval with "
        "`--generation-config vllm`.");
    spdlog::info("Using default chat sampling params from model: {}", defaults_text);
    spdlog::info("Using default completion sampling params from model: {}", defaults_text);
  }

  // Engine.
  LLMEngineConfig ec;
  ec.scheduler.max_num_seqs = options_.max_num_seqs;
  ec.scheduler.max_num_batched_tokens = settings.max_num_batched_tokens;
  ec.scheduler.max_model_len = plan_.max_model_len;
  ec.scheduler.enable_chunked_prefill = options_.enable_chunked_prefill;
  ec.kv.num_blocks = static_cast<int>(plan_.capacity.num_blocks);
  ec.kv.block_size = options_.block_size;
  ec.kv.enable_prefix_caching = options_.enable_prefix_caching;
  // Phi-3: every layer slides over the same window, so blocks that fall out of it go back to the pool.
  // (Gemma-2 mixes full and sliding layers in one block table: it keeps its blocks.)
  ec.kv.sliding_window = config.uniform_sliding_window();
  for (int64_t id : model_->generation_config().eos_token_ids) ec.eos_token_ids.push_back(static_cast<int32_t>(id));
  for (int64_t id : gen.eos_token_ids) ec.eos_token_ids.push_back(static_cast<int32_t>(id));
  if (auto eos = tokenizer_->eos_id()) ec.eos_token_ids.push_back(*eos);
  std::sort(ec.eos_token_ids.begin(), ec.eos_token_ids.end());
  ec.eos_token_ids.erase(std::unique(ec.eos_token_ids.begin(), ec.eos_token_ids.end()), ec.eos_token_ids.end());
  ec.stats_log_interval_s = options_.disable_log_stats ? 0.0 : 10.0;
  ec.log_requests = !options_.disable_log_requests;
  ec.seed = options_.seed;
  engine_ = std::make_unique<LLMEngine>(*model_, *tokenizer_, ec);

  // Server.
  ServerConfig sc;
  sc.http.host = options_.host;
  sc.http.port = static_cast<uint16_t>(options_.port);
  sc.http.num_io_threads = options_.io_threads;
  sc.http.api_keys = options_.api_keys;
  sc.served_model_names = options_.served_model_names;
  sc.model_root = options_.model_dir;
  sc.max_model_len = plan_.max_model_len;
  sc.max_logprobs = options_.max_logprobs;
  sc.default_params = defaults;
  sc.version = SERVAL_VERSION;
  ModelHooks hooks;
  const Tokenizer* tok = tokenizer_.get();
  hooks.encode = [tok](const std::string& text, bool add_special) { return tok->encode(text, add_special); };
  hooks.decode = [tok](const std::vector<int32_t>& ids, bool skip_special) { return tok->decode(ids, skip_special); };
  if (chat_template_) {
    const ChatTemplate* tmpl = &*chat_template_;
    hooks.apply_chat_template = [tmpl](const nlohmann::json& messages, const nlohmann::json& tools,
                                       bool add_generation_prompt) {
      return tmpl->render(messages, tools, add_generation_prompt);
    };
  }
  hooks.vocab_size = static_cast<int>(config.vocab_size);
  server_ = std::make_unique<ApiServer>(std::move(sc), *engine_, std::move(hooks));
}

ServeRuntime::~ServeRuntime() { shutdown(std::chrono::milliseconds(0)); }

void ServeRuntime::start() {
  server_->start();
  spdlog::info("Starting serval API server on http://{}:{}", options_.host, server_->port());
}

uint16_t ServeRuntime::port() const { return server_->port(); }

void ServeRuntime::shutdown(std::chrono::milliseconds grace) {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  const int in_flight = server_->num_in_flight();
  if (in_flight > 0)
    spdlog::info("Shutting down: waiting up to {:.1f} s for {} in-flight requests", grace.count() / 1000.0, in_flight);
  server_->stop_gracefully(grace);
  engine_->stop();
  const EngineStepTimings t = engine_->step_timings();
  if (t.num_steps > 0) {
    const double total = t.total_s();
    spdlog::info(
        "Engine steps: {} steps, {} tokens, {:.2f} ms/step; forward {:.1f}%, sampling {:.1f}%, scheduling {:.1f}%, "
        "output processing {:.1f}%",
        t.num_steps, t.num_tokens, 1000.0 * total / static_cast<double>(t.num_steps), 100.0 * t.forward_s / total,
        100.0 * t.sample_s / total, 100.0 * t.schedule_s / total, 100.0 * t.update_s / total);
  }
}

}  // namespace serval::cli
