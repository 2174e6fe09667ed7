// IncrementalDetokenizer: the streamed pieces are valid UTF-8 and concatenate to decode(all ids), over random
// id sequences (byte tokens, specials, multi-byte pieces) and the golden prompts; prompt priming keeps the
// leading space of a SentencePiece continuation.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/utf8.h"
#include "tokenizer_fixtures.h"

namespace serval {
namespace {

using test::golden_dir;
using test::golden_tokenizer;
using test::read_json;

struct Streamed {
  std::string text;
  size_t empty_steps = 0;
};

Streamed stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip_special,
                std::span<const int32_t> prompt = {}) {
  IncrementalDetokenizer detok(tok, skip_special, prompt);
  Streamed out;
  for (int32_t id : ids) {
    std::string piece = detok.add(id);
    EXPECT_EQ(utf8::find_invalid(piece), std::string::npos) << "broken UTF-8 emitted";
    out.empty_steps += piece.empty();
    out.text += piece;
  }
  std::string rest = detok.flush();
  EXPECT_EQ(utf8::find_invalid(rest), std::string::npos);
  out.text += rest;
  return out;
}

// Ids that exercise the hold-back logic: byte-fallback tokens, byte-level pieces of multi-byte characters,
// special tokens, "▁" tokens, plus uniformly random ids.
std::vector<int32_t> interesting_ids(const Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string t = tok.id_to_token(id);
    if (tok.is_byte_fallback_token(id) || tok.is_special(id) || t.rfind("\xE2\x96\x81", 0) == 0 ||
        (t.size() <= 3 && !t.empty() && static_cast<unsigned char>(t[0]) >= 0xC2))
      ids.push_back(id);
    if (ids.size() > 4000) break;
  }
  return ids;
}

class IncrementalDetokenizerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(IncrementalDetokenizerTest, RandomSequencesConcatenateToDecode) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer(GetParam());
  const std::vector<int32_t> pool = interesting_ids(tok);
  ASSERT_FALSE(pool.empty());
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; ++round) {
    std::vector<int32_t> ids(1 + rng() % 40);
    for (int32_t& id : ids)
      id = rng() % 3 == 0 ? static_cast<int32_t>(rng() % tok.vocab_size()) : pool[rng() % pool.size()];
    for (bool skip : {true, false}) {
      Streamed s = stream(tok, ids, skip);
      ASSERT_EQ(s.text, tok.decode(ids, skip)) << GetParam() << " round " << round << " skip=" << skip
                                               << " ids " << nlohmann::json(ids).dump();
    }
  }
}

TEST_P(IncrementalDetokenizerTest, GoldenTextsStreamExactly) {
  SERVAL_REQUIRE_GOLDEN();
  const std::string name = GetParam();
  const Tokenizer& tok = golden_tokenizer(name);
  const std::string check_name = name == "qwen2-tiny" ? "phi2-tiny" : name;  // same 62 strings
  const nlohmann::json check = read_json(golden_dir() + "/" + check_name + "/tokenizer_check.json");
  size_t held = 0;
  for (const auto& s : check["strings"]) {
    std::vector<int32_t> ids = tok.encode(s["text"].get<std::string>());
    for (bool skip : {true, false}) {
      Streamed st = stream(tok, ids, skip);
      EXPECT_EQ(st.text, tok.decode(ids, skip)) << name << " " << s["text"].dump();
      held += st.empty_steps;
    }
  }
  EXPECT_GT(held, 0u) << "emoji/CJK texts should hold back partial characters at some steps";
}

INSTANTIATE_TEST_SUITE_P(Models, IncrementalDetokenizerTest,
                         ::testing::Values("qwen2-tiny", "phi3-tiny", "gemma2-tiny", "phi2-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('-'));
                         });

TEST(IncrementalDetokenizer, EmojiIsNeverSplit) {
  SERVAL_REQUIRE_GOLDEN();
  for (const char* name : {"qwen2-tiny", "phi3-tiny"}) {
    const Tokenizer& tok = golden_tokenizer(name);
    const std::string text = "A\xF0\x9F\x98\x80 \xE4\xBD\xA0\xE5\xA5\xBD";  // "A😀 你好"
    std::vector<int32_t> ids = tok.encode(text);
    IncrementalDetokenizer detok(tok);
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(detok.add(id));
    pieces.push_back(detok.flush());
    std::string joined;
    for (const std::string& p : pieces) {
      joined += p;
      EXPECT_EQ(p.find("\xEF\xBF\xBD"), std::string::npos) << name << ": a partial character was emitted";
    }
    EXPECT_EQ(joined, text) << name;
  }
}

TEST(IncrementalDetokenizer, SentencePieceLeadingSpace) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("phi3-tiny");
  std::vector<int32_t> ids = tok.encode("Hello world");  // ▁Hello ▁world
  EXPECT_EQ(stream(tok, ids, true).text, "Hello world") << "the whole-sequence decode strips the first ▁";

  // A continuation after a prompt keeps its leading space, as vLLM streams it.
  std::vector<int32_t> prompt = tok.encode("<|user|>\nSay hi<|end|>\n<|assistant|>");
  EXPECT_EQ(stream(tok, ids, true, prompt).text, " Hello world");

  const Tokenizer& qwen = golden_tokenizer("qwen2-tiny");
  std::vector<int32_t> qprompt = qwen.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  std::vector<int32_t> qids = qwen.encode("Hi there<|im_end|>");
  EXPECT_EQ(stream(qwen, qids, true, qprompt).text, "Hi there");
  EXPECT_EQ(stream(qwen, qids, false, qprompt).text, "Hi there<|im_end|>");
}

}  // namespace
}  // namespace serval
