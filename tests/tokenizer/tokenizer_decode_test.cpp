// decode(): round trips over the golden strings, and the decoder details HF has (ByteFallback's one U+FFFD
// per invalid byte, the SentencePiece leading-space strip, skip_special_tokens, dropped unknown ids).
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"

namespace serval {
namespace {

using test::golden_dir;
using test::golden_tokenizer;
using test::read_json;

std::vector<std::string> check_strings(const std::string& name) {
  std::vector<std::string> out;
  const nlohmann::json check = read_json(golden_dir() + "/" + name + "/tokenizer_check.json");
  for (const auto& s : check["strings"]) out.push_back(s["text"]);
  return out;
}

std::vector<int32_t> ids_of(const Tokenizer& tok, std::initializer_list<const char*> tokens) {
  std::vector<int32_t> ids;
  for (const char* t : tokens) {
    auto id = tok.token_to_id(t);
    EXPECT_TRUE(id.has_value()) << t;
    ids.push_back(id.value_or(-1));
  }
  return ids;
}

// Byte-level (Qwen, Phi-2) and Gemma decoding give back the exact text. (The golden strings are NFC, so
// Qwen's normalizer does not change them.)
TEST(TokenizerDecode, RoundTripsExactly) {
  SERVAL_REQUIRE_GOLDEN();
  for (const char* name : {"qwen2-tiny", "gemma2-tiny", "phi2-tiny"}) {
    const Tokenizer& tok = golden_tokenizer(name);
    for (const std::string& text : check_strings(name == std::string("qwen2-tiny") ? "phi2-tiny" : name))
      EXPECT_EQ(tok.decode(tok.encode(text)), text) << name << " " << nlohmann::json(text).dump();
  }
}

// Phi-3: the decoder strips the one "▁" the normalizer prepends; the rstrip flags of <|user|> etc. eat the
// whitespace after them, so only texts without such whitespace round-trip.
TEST(TokenizerDecode, Phi3RoundTripsExceptStrippedWhitespace) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("phi3-tiny");
  size_t checked = 0;
  for (const std::string& text : check_strings("phi3-tiny")) {
    if (text.find("<|") != std::string::npos || text.find("</s>") != std::string::npos) continue;
    ++checked;
    EXPECT_EQ(tok.decode(tok.encode(text)), text) << nlohmann::json(text).dump();
  }
  EXPECT_GT(checked, 50u);
  // "▁" is prepended to every text segment, and Strip only acts on the start of the whole text.
  EXPECT_EQ(tok.decode(tok.encode("<|user|>\nHi<|end|>\n<|assistant|>")), "<|user|> Hi<|end|><|assistant|>");
  EXPECT_EQ(tok.decode(tok.encode("<|user|>\nHi<|end|>\n<|assistant|>"), true), "Hi");
  EXPECT_EQ(tok.decode(tok.encode(" Hello")), " Hello") << "only one leading space is stripped";
}

TEST(TokenizerDecode, ByteFallbackGivesOneReplacementPerInvalidByte) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("phi3-tiny");
  EXPECT_EQ(tok.decode(ids_of(tok, {"<0xE2>", "<0x82>", "<0xAC>"})), "\xE2\x82\xAC");  // €
  EXPECT_EQ(tok.decode(ids_of(tok, {"<0xE2>", "<0x82>", "a"})), "\xEF\xBF\xBD\xEF\xBF\xBD" "a");
  EXPECT_EQ(tok.decode(ids_of(tok, {"<0x41>", "<0x80>"})), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode(ids_of(tok, {"\xE2\x96\x81Hello", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"})), "Hello\xF0\x9F\x98\x80");
  EXPECT_TRUE(tok.is_byte_fallback_token(tok.token_to_id("<0x0A>").value()));
  EXPECT_FALSE(tok.is_byte_fallback_token(tok.token_to_id("\xE2\x96\x81Hello").value()));
}

TEST(TokenizerDecode, ByteLevelInvalidUtf8BecomesReplacementChar) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("qwen2-tiny");
  // "â" is the byte-level character for byte 0xE2, "Ĥ" for 0x82 (a lone lead byte, then a truncated sequence).
  EXPECT_EQ(tok.decode(ids_of(tok, {"\xC3\xA2", "a"})), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(tok.decode(ids_of(tok, {"\xC3\xA2", "\xC4\xA2"})), "\xEF\xBF\xBD");
}

TEST(TokenizerDecode, SkipsSpecialTokensAndDropsUnknownIds) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& gemma = golden_tokenizer("gemma2-tiny");
  auto ids = gemma.encode("Hello world", true);
  ASSERT_EQ(ids.front(), 2);
  EXPECT_EQ(gemma.decode(ids), "<bos>Hello world");
  EXPECT_EQ(gemma.decode(ids, true), "Hello world");

  const Tokenizer& qwen = golden_tokenizer("qwen2-tiny");
  std::vector<int32_t> with_unknown = {9707, 151645, 999999, -5, 1879};
  EXPECT_EQ(qwen.decode(with_unknown), "Hello<|im_end|> world");
  EXPECT_EQ(qwen.decode(with_unknown, true), "Hello world");

  const Tokenizer& phi3 = golden_tokenizer("phi3-tiny");
  EXPECT_EQ(phi3.decode(std::vector<int32_t>{32050}), "") << "ids only the model has decode to nothing";
  EXPECT_EQ(phi3.id_to_token(32050), "");
}

TEST(TokenizerDecode, Phi2WhitespaceTokensAndCleanUp) {
  SERVAL_REQUIRE_GOLDEN();
  const Tokenizer& tok = golden_tokenizer("phi2-tiny");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{50284, 7783}), "    return");
  EXPECT_EQ(Tokenizer::clean_up_tokenization("Hello , world . I do n't know ! Is it ?"),
            "Hello, world. I don't know! Is it?");
}

}  // namespace
}  // namespace serval
