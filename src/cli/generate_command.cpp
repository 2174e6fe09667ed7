// `serval generate MODEL_DIR`: one prompt in, streamed text (or one JSON line per token) out.
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/generator.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace serval::cli {

namespace {

std::vector<int32_t> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    while (used < item.size() && std::isspace(static_cast<unsigned char>(item[used]))) ++used;
    check(used == item.size() && !item.empty() && v >= 0 && v <= INT32_MAX,
          "--prompt-ids: '" + item + "' is not a token id (expected a comma-separated list like 1,2,3)");
    ids.push_back(static_cast<int32_t>(v));
  }
  check(!ids.empty(), "--prompt-ids is empty");
  return ids;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  struct Options {
    std::string model_dir;
    std::string prompt;
    std::string prompt_ids;
    bool chat = false;
    bool json = false;
    int top_logprobs = 0;
    std::string dtype = "auto";
    std::string quantization;
    int threads = 0;
    int max_model_len = 0;
    SamplingFlags sampling;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt (streams to stdout)");
  cmd->add_option("model_dir", opts->model_dir, "Hugging Face model directory")->required();
  auto* prompt = cmd->add_option("--prompt", opts->prompt, "Prompt text");
  auto* prompt_ids = cmd->add_option("--prompt-ids", opts->prompt_ids, "Prompt as token ids: 1,2,3");
  prompt->excludes(prompt_ids);
  cmd->add_flag("--chat", opts->chat, "Wrap --prompt as one user message with the model's chat template");
  cmd->add_flag("--json", opts->json, "Print one JSON line per generated token with its logprob");
  cmd->add_option("--top-logprobs", opts->top_logprobs, "With --json: the K most likely tokens per step")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--dtype", opts->dtype, "auto, bfloat16, float16 or float32 (vLLM's meaning)");
  cmd->add_option("--quantization", opts->quantization, "Quantize weights at load: int8 or int4 (default: none)");
  cmd->add_option("-t,--threads", opts->threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-model-len", opts->max_model_len, "Prompt + output tokens at most (default: the model's)");
  add_sampling_flags(*cmd, opts->sampling);
  cmd->callback([opts, prompt, prompt_ids] {
    check(prompt->count() + prompt_ids->count() > 0, "generate needs --prompt TEXT or --prompt-ids 1,2,3");
    check(!(opts->chat && prompt_ids->count() > 0), "--chat applies to --prompt, not --prompt-ids");
    set_num_threads(opts->threads);
    Tokenizer tokenizer = Tokenizer::from_dir(opts->model_dir);
    std::unique_ptr<Model> model =
        Model::load(opts->model_dir, LoadOptions{.dtype = opts->dtype, .quantization = opts->quantization});

    std::vector<int32_t> ids;
    if (prompt_ids->count() > 0) {
      ids = parse_id_list(opts->prompt_ids);
    } else if (opts->chat) {
      std::optional<ChatTemplate> tmpl = ChatTemplate::from_model_dir(opts->model_dir);
      check(tmpl.has_value(), "model " + opts->model_dir + " has no chat_template in tokenizer_config.json");
      nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", opts->prompt}}});
      ids = tokenizer.encode(tmpl->render(messages, nlohmann::json(), true), false);
    } else {
      ids = tokenizer.encode(opts->prompt, true);
    }

    SamplingParams params = make_sampling_params(opts->sampling, model->generation_config());
    if (opts->json) params.logprobs = opts->top_logprobs;
    std::vector<int32_t> eos_ids(model->generation_config().eos_token_ids.begin(),
                                 model->generation_config().eos_token_ids.end());
    if (auto eos = tokenizer.eos_id()) eos_ids.push_back(*eos);

    Generator generator(*model, opts->max_model_len);
    IncrementalDetokenizer detok(tokenizer, true, ids);
    GenerateStats stats = generator.generate(ids, params, eos_ids, [&](const SampleResult& s, bool is_stop) {
      if (opts->json) {
        nlohmann::ordered_json line = {{"id", s.token_id},
                               {"text", is_stop ? std::string() : detok.add(s.token_id)},
                               {"logprob", s.logprob}};
        nlohmann::ordered_json top = nlohmann::ordered_json::array();
        for (const auto& t : s.top_logprobs) top.push_back({{"id", t.id}, {"logprob", t.logprob}});
        line["top_logprobs"] = top;
        if (is_stop) line["stop"] = true;
        std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      } else if (!is_stop) {
        std::cout << detok.add(s.token_id);
      }
      std::cout.flush();
    });
    if (!opts->json) std::cout << detok.flush() << std::endl;
    std::fprintf(stderr, "prompt %d tokens: %.1f tok/s | generated %d tokens: %.2f tok/s%s\n",
                 stats.num_prompt_tokens,
                 stats.prefill_seconds > 0 ? stats.num_prompt_tokens / stats.prefill_seconds : 0.0,
                 stats.num_generated_tokens,
                 stats.decode_seconds > 0 && stats.num_generated_tokens > 1
                     ? (stats.num_generated_tokens - 1) / stats.decode_seconds
                     : 0.0,
                 stats.stopped_by_eos ? " (stopped at eos)" : "");
  });
}

}  // namespace serval::cli
