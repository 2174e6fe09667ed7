// The generated datasets: random (~input-len tokens, exact with a tokenizer), chat (short questions),
// summarize (1-3k-token documents), shared-prefix (one long system prompt + varied user turns).
#include <algorithm>
#include <array>
#include <cmath>

#include "bench/datasets/dataset.h"
#include "bench/datasets/text_generator.h"

namespace serval::bench {

namespace {

// Uniform integer in [len*(1-r), len*(1+r)], at least 1 (vLLM's --random-range-ratio since 0.8.4).
int sample_len(TextGenerator& gen, int len, double r) {
  const int lo = std::max(1, static_cast<int>(std::floor(len * (1.0 - r))));
  const int hi = std::max(lo, static_cast<int>(std::ceil(len * (1.0 + r))));
  return gen.uniform(lo, hi);
}

int count_tokens(const TokenCounter& tc, const std::string& text) { return tc ? tc(text, true) : estimate_tokens(text); }

// Words that make ~target tokens; with a tokenizer, adjusted until the count is exact (or as close as
// word granularity allows after a few rounds).
std::string text_of_tokens(TextGenerator& gen, int target, const TokenCounter& tc, int* actual) {
  std::string text = gen.words(target);
  if (!tc) {
    *actual = target;  // one vocabulary word ~ one token
    return text;
  }
  int count = tc(text, true);
  for (int round = 0; round < 16 && count != target; ++round) {
    if (count > target) {
      int drop = std::max(1, (count - target) / 2);
      while (drop-- > 0) {
        const size_t space = text.rfind(' ');
        if (space == std::string::npos) break;
        text.resize(space);
      }
    } else {
      text += ' ';
      text += gen.words(std::max(1, (target - count + 1) / 2));
    }
    count = tc(text, true);
  }
  *actual = count;
  return text;
}

}  // namespace

std::vector<BenchSample> random_samples(const DatasetConfig& c, int num, uint64_t seed, const TokenCounter& tc) {
  TextGenerator gen(seed);
  std::vector<BenchSample> out(num);
  for (BenchSample& s : out) {
    const int in_len = sample_len(gen, c.input_len, c.range_ratio);
    s.output_len = sample_len(gen, c.output_len, c.range_ratio);
    s.prompt = text_of_tokens(gen, in_len, tc, &s.prompt_len);
  }
  return out;
}

std::vector<BenchSample> chat_samples(const DatasetConfig&, int num, uint64_t seed, const TokenCounter& tc) {
  static constexpr std::array<const char*, 12> kAsks = {
      "Write a short poem about %.", "Explain % in simple terms.", "What are three tips for dealing with %?",
      "Give me a one-paragraph summary of %.", "Why does % matter to most people?",
      "Tell a short story that involves %.", "List five facts about %.", "How would you describe % to a child?",
      "What is the best way to learn about %?", "Compare % with something from everyday life.",
      "Write a friendly email that mentions %.", "What questions should I ask about %?"};
  TextGenerator gen(seed);
  std::vector<BenchSample> out(num);
  for (BenchSample& s : out) {
    std::string ask = kAsks[gen.uniform(0, kAsks.size() - 1)];
    ask.replace(ask.find('%'), 1, gen.topic());
    s.prompt = ask;
    s.prompt_len = count_tokens(tc, s.prompt);
    s.output_len = gen.uniform(64, 256);
  }
  return out;
}

std::vector<BenchSample> summarize_samples(const DatasetConfig&, int num, uint64_t seed, const TokenCounter& tc) {
  TextGenerator gen(seed);
  std::vector<BenchSample> out(num);
  for (BenchSample& s : out) {
    const int doc_tokens = gen.uniform(1000, 3000);
    s.prompt = "Summarize the following document in a few paragraphs.\n\n" + gen.document(doc_tokens);
    s.prompt_len = count_tokens(tc, s.prompt);
    s.output_len = gen.uniform(256, 512);
  }
  return out;
}

std::vector<BenchSample> shared_prefix_samples(const DatasetConfig& c, int num, uint64_t seed, const TokenCounter& tc) {
  TextGenerator prefix_gen(seed ^ 0x5ca1ab1eull);
  const std::string system =
      "You are a helpful assistant for a large organisation. Use the reference notes below when you answer.\n\n" +
      prefix_gen.document(c.prefix_len);
  TextGenerator gen(seed);
  std::vector<BenchSample> out(num);
  for (BenchSample& s : out) {
    int user_len = 0;
    const std::string user =
        "Question about " + gen.topic() + ": " + text_of_tokens(gen, sample_len(gen, c.input_len, c.range_ratio), tc, &user_len) + "?";
    s.messages = nlohmann::json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}});
    s.prompt = system + "\n\n" + user;
    s.prompt_len = count_tokens(tc, s.prompt);
    s.output_len = sample_len(gen, c.output_len, c.range_ratio);
  }
  return out;
}

}  // namespace serval::bench
