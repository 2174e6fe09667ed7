#include "engine/generator.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace serval {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

Generator::Generator(Model& model, int max_model_len, int block_size)
    : model_(model), max_model_len_(max_model_len), block_size_(block_size) {
  if (max_model_len_ <= 0) max_model_len_ = model.config().max_position_embeddings;
  check(max_model_len_ > 0, "max model length must be positive");
}

GenerateStats Generator::generate(std::span<const int32_t> prompt_ids, const SamplingParams& params,
                                  std::span<const int32_t> eos_ids,
                                  const std::function<void(const SampleResult&, bool)>& on_token) {
  params.validate();
  check(!prompt_ids.empty(), "the prompt is empty");
  const int64_t vocab = model_.config().vocab_size;
  for (int32_t id : prompt_ids)
    check(id >= 0 && id < vocab, "prompt token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                     std::to_string(vocab) + ")");
  const int num_prompt = static_cast<int>(prompt_ids.size());
  check(num_prompt < max_model_len_, "the prompt has " + std::to_string(num_prompt) +
                                         " tokens, which leaves no room to generate within max model length " +
                                         std::to_string(max_model_len_));
  const int max_tokens = std::min(params.max_tokens, max_model_len_ - num_prompt);

  // The KV cache grows to the longest sequence asked for so far (never to max_model_len up front).
  const int num_blocks = (num_prompt + max_tokens + block_size_ - 1) / block_size_;
  if (kv_.shape().num_blocks < num_blocks) kv_ = KvCache(model_.kv_cache_shape(num_blocks, block_size_));

  GenerateStats stats;
  stats.num_prompt_tokens = num_prompt;
  RequestSampler sampler(params, prompt_ids);
  std::vector<int32_t> output;

  ModelInputs in;
  SeqSlice seq;
  seq.block_table.resize(static_cast<size_t>(num_blocks));
  std::iota(seq.block_table.begin(), seq.block_table.end(), 0);
  in.token_ids.assign(prompt_ids.begin(), prompt_ids.end());
  in.positions.resize(prompt_ids.size());
  std::iota(in.positions.begin(), in.positions.end(), 0);
  seq.token_begin = 0;
  seq.num_tokens = num_prompt;
  seq.num_computed = 0;
  in.seqs = {seq};
  in.logit_rows = {num_prompt - 1};
  ModelOutput out;

  auto is_stop_id = [&](int32_t id) {
    if (static_cast<int>(output.size()) < params.min_tokens) return false;
    if (std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), id) != params.stop_token_ids.end())
      return true;
    return !params.ignore_eos && std::find(eos_ids.begin(), eos_ids.end(), id) != eos_ids.end();
  };

  Clock::time_point t0 = Clock::now();
  int position = num_prompt;
  while (static_cast<int>(output.size()) < max_tokens) {
    model_.forward(in, kv_, out);
    SampleResult s = sampler.sample(std::span<const float>(out.logits.data(), static_cast<size_t>(out.vocab_size)),
                                    output);
    const bool first = output.empty() && stats.prefill_seconds == 0.0;
    if (first) {
      stats.prefill_seconds = seconds_since(t0);
      t0 = Clock::now();
    }
    const bool stop = is_stop_id(s.token_id);
    on_token(s, stop);
    if (stop) {
      stats.stopped_by_eos = true;
      break;
    }
    output.push_back(s.token_id);
    // Next step: the sampled token alone.
    in.token_ids = {s.token_id};
    in.positions = {position};
    in.seqs[0].token_begin = 0;
    in.seqs[0].num_tokens = 1;
    in.seqs[0].num_computed = position;
    in.logit_rows = {0};
    ++position;
  }
  if (!output.empty() || stats.stopped_by_eos) stats.decode_seconds = seconds_since(t0);
  stats.num_generated_tokens = static_cast<int>(output.size());
  return stats;
}

}  // namespace serval
