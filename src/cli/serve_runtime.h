// ServeRuntime: everything `serval serve` builds from its flags — the model, tokenizer and chat template,
// the memory plan (the same plan_for_model numbers `serval plan` prints), the LLMEngine and the
// OpenAI-compatible ApiServer — and its orderly shutdown. The CLI parses flags into ServeOptions and waits
// for SIGINT/SIGTERM; tests build a ServeRuntime in-process.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "engine/llm_engine.h"
#include "model/model.h"
#include "planner/model_plan.h"
#include "server/api_server.h"
#include "tokenizer/tokenizer.h"

namespace serval::cli {

// vLLM's `vllm serve` flags and defaults (docs/ARCHITECTURE.md lists where serval differs).
struct ServeOptions {
  std::string model_dir;
  std::string host = "0.0.0.0";
  int port = 8000;                                // 0 = an ephemeral port (logged)
  std::vector<std::string> served_model_names;    // default: model_dir as given
  std::string max_model_len;                      // "" = the model's max_position_embeddings; "4k" accepted
  int max_num_seqs = 256;
  std::optional<int> max_num_batched_tokens;      // default 2048; max(max_model_len, 2048) without chunked prefill
  int block_size = 16;
  double gpu_memory_utilization = 0.9;            // of the device memory (RAM on CPU)
  std::string kv_cache_memory;                    // "" = from utilization; a size wins over it
  std::optional<size_t> device_memory_bytes;      // override the device memory (tests, planning what-ifs)
  bool enable_prefix_caching = true;
  bool enable_chunked_prefill = true;
  bool enforce_eager = false;                     // accepted; CPU runs eagerly anyway
  std::string dtype = "auto";
  std::string quantization;                       // "" (none), int8 or int4: applied to the weights at load
  uint64_t seed = 0;                              // seeds requests that bring no seed of their own
  std::vector<std::string> api_keys;              // --api-key, or SERVAL_API_KEY
  std::string chat_template;                      // file path or inline Jinja; "" = tokenizer_config.json's
  std::string generation_config = "auto";         // auto | vllm | a directory with generation_config.json
  bool disable_log_requests = false;
  bool disable_log_stats = false;
  int threads = 0;                                // compute threads; 0 = all cores
  int max_logprobs = 20;
  int io_threads = 2;                             // HTTP I/O threads
};

class ServeRuntime {
 public:
  // Loads and plans; logs vLLM's start-up lines. Throws serval::Error with vLLM's kind of message when
  // the model does not fit (naming both numbers and the flag to change) or a flag is out of range.
  explicit ServeRuntime(const ServeOptions& options);
  ~ServeRuntime();

  // Binds and starts serving; logs "Starting serval API server on http://HOST:PORT".
  void start();
  uint16_t port() const;
  // Stops accepting, lets in-flight requests finish for up to `grace`, aborts the rest, stops the engine
  // and logs where the engine thread's time went. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  const ModelPlan& plan() const { return plan_; }
  LLMEngine& engine() { return *engine_; }
  int max_model_len() const { return plan_.max_model_len; }

 private:
  ServeOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<ChatTemplate> chat_template_;
  ModelPlan plan_;
  std::unique_ptr<LLMEngine> engine_;
  std::unique_ptr<ApiServer> server_;
  bool shut_down_ = false;
};

}  // namespace serval::cli
