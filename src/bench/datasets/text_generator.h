// TextGenerator: seeded, word-level English-like text (built-in vocabulary and sentence shapes) for the
// synthetic datasets, and a tokenizer-free token estimate for it.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace serval::bench {

class TextGenerator {
 public:
  explicit TextGenerator(uint64_t seed) : rng_(seed) {}

  // n space-separated common words, no punctuation (each ~1 token in BPE vocabularies).
  std::string words(int n);
  // One sentence: capitalised, 6-18 words, a comma sometimes, ending in '.'.
  std::string sentence();
  // A titled document of paragraphs, about approx_tokens tokens long.
  std::string document(int approx_tokens);
  // A noun phrase for prompts ("the history of bridges").
  std::string topic();

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

// Token estimate without a tokenizer: words + punctuation marks + one more per 8 letters of long words.
int estimate_tokens(std::string_view text);

}  // namespace serval::bench
