// Loading errors (bad JSON, unsupported components, bad regex, bad merges) are serval::Error naming the
// problem; the "a b" string merge form; and the semantics of small hand-written tokenizer.json files.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer_fixtures.h"

namespace serval {
namespace {

using nlohmann::json;

// A tiny SentencePiece-style BPE with byte fallback.
json toy_tokenizer() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"\xE2\x96\x81", 2}, {"a", 3}, {"b", 4}, {"ab", 5}, {"\xE2\x96\x81" "a", 6},
                {"\xE2\x96\x81" "ab", 7}, {"<0x41>", 8}, {"<0xE2>", 9}, {"<0x82>", 10}, {"<0xAC>", 11}, {"<x>", 12}};
  return {{"version", "1.0"},
          {"added_tokens", json::array({{{"id", 12}, {"content", "<x>"}, {"special", true}, {"lstrip", true},
                                         {"rstrip", false}, {"normalized", false}, {"single_word", false}}})},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", false}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "Sequence"},
                       {"decoders", json::array({{{"type", "ByteFallback"}},
                                                 {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}}})}}},
          {"model",
           {{"type", "BPE"}, {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab},
            {"merges", json::array({json::array({"\xE2\x96\x81", "a"}), "\xE2\x96\x81" "a b", "a b"})}}}};
}

std::string error_of(const std::string& tokenizer_json, const std::string& config = "") {
  try {
    Tokenizer::from_json_text(tokenizer_json, config);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string error_with(const std::function<void(json&)>& edit) {
  json j = toy_tokenizer();
  edit(j);
  return error_of(j.dump());
}

TEST(TokenizerErrors, BadFilesAreNamedErrors) {
  EXPECT_NE(error_of("{not json").find("tokenizer.json is not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[1,2]").find("must hold a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{}").find("no \"model\""), std::string::npos);
  EXPECT_NE(error_of(toy_tokenizer().dump(), "{oops").find("tokenizer_config.json is not valid JSON"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["type"] = "Unigram"; }).find("unsupported model type \"Unigram\""),
            std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["type"] = "WordPiece"; }).find("WordPiece"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["normalizer"] = {{"type", "Precompiled"}}; }).find("normalizer type \"Precompiled\""),
            std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["pre_tokenizer"] = {{"type", "Fancy"}}; }).find("pre_tokenizer type \"Fancy\""),
            std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["decoder"] = {{"type", "CTC"}}; }).find("decoder type \"CTC\""), std::string::npos);
  EXPECT_NE(error_with([](json& j) {
              j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(\\p{L}+"}}}, {"behavior", "Isolated"}};
            }).find("bad regex"),
            std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "x"}}}, {"behavior", "Sideways"}}; })
                .find("behavior \"Sideways\""),
            std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["merges"].push_back("a zz"); }).find("not in the vocab"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["merges"].push_back("a b c"); }).find("merges[3]"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["merges"].push_back(42); }).find("merges[3]"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["vocab"]["q"] = "x"; }).find("vocab id"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["model"]["unk_token"] = "<nope>"; }).find("unk_token"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["added_tokens"][0].erase("id"); }).find("added_tokens[0]"), std::string::npos);
  EXPECT_NE(error_with([](json& j) { j["normalizer"] = "NFC"; }).find("normalizer must be an object"), std::string::npos);
  EXPECT_NE(error_of(toy_tokenizer().dump(), R"({"tokenizer_class": "LlamaTokenizer", "add_bos_token": true})")
                .find("add_bos_token is true but bos_token"),
            std::string::npos);

  try {
    Tokenizer::from_dir("/nonexistent/model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model/tokenizer.json"), std::string::npos);
  }
}

TEST(TokenizerErrors, InvalidUtf8TextIsAnError) {
  Tokenizer tok = Tokenizer::from_json_text(toy_tokenizer().dump(), "");
  EXPECT_THROW(tok.encode("ab\xC3"), Error);
  EXPECT_THROW(tok.encode("\xED\xA0\x80"), Error);  // a UTF-16 surrogate
}

TEST(TokenizerToy, SentencePieceSemantics) {
  Tokenizer tok = Tokenizer::from_json_text(toy_tokenizer().dump(), R"({"bos_token": "<s>"})");
  using V = std::vector<int32_t>;
  EXPECT_EQ(tok.encode("ab"), (V{7}));                         // ▁ab via merges in both forms
  EXPECT_EQ(tok.encode("ab ab"), (V{7, 7}));                   // one word "▁ab▁ab" (split=false)
  EXPECT_EQ(tok.encode("bab"), (V{2, 4, 5}));                  // "▁b" is not a token; "a b" merges
  EXPECT_EQ(tok.encode("A"), (V{2, 8}));                       // byte fallback for "A"
  EXPECT_EQ(tok.encode("\xE2\x82\xAC"), (V{2, 9, 10, 11}));    // € as three byte tokens
  EXPECT_EQ(tok.encode("zz"), (V{2, 0}));                      // no byte tokens for z: one fused <unk>
  EXPECT_EQ(tok.encode("a  <x>b"), (V{6, 12, 4}));             // lstrip eats the spaces; "b" is not first: no ▁
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.decode(tok.encode("ab ab")), "ab ab");
  EXPECT_EQ(tok.decode(V{2, 9, 10, 11}), "\xE2\x82\xAC");
  EXPECT_EQ(tok.vocab_size(), 13);
}

TEST(TokenizerToy, UnfusedUnknownsAndIgnoreMerges) {
  json j = toy_tokenizer();
  j["model"]["fuse_unk"] = false;
  Tokenizer unfused = Tokenizer::from_json_text(j.dump(), "");
  EXPECT_EQ(unfused.encode("zz"), (std::vector<int32_t>{2, 0, 0}));

  j = toy_tokenizer();
  j["model"]["ignore_merges"] = true;
  j["model"]["vocab"]["\xE2\x96\x81" "aab"] = 13;
  Tokenizer ignoring = Tokenizer::from_json_text(j.dump(), "");
  EXPECT_EQ(ignoring.encode("aab"), (std::vector<int32_t>{13}));  // whole word in vocab: no merging
}

// Real checkpoints often store merges as "a b" strings: rewriting Qwen's pair-form merges must not change ids.
TEST(TokenizerMerges, StringFormEqualsPairForm) {
  SERVAL_REQUIRE_GOLDEN();
  json j = test::read_json(test::model_dir("qwen2-tiny") + "/tokenizer.json");
  ASSERT_TRUE(j["model"]["merges"][0].is_array());
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  Tokenizer string_form = Tokenizer::from_json_text(j.dump(), test::read_text(test::model_dir("qwen2-tiny") + "/tokenizer_config.json"));
  const Tokenizer& pair_form = test::golden_tokenizer("qwen2-tiny");
  const json ref = test::read_json(test::golden_dir() + "/tokenizer_reference.json");
  for (const auto& r : ref["results"]) {
    std::string text = r["text"];
    EXPECT_EQ(string_form.encode(text), r["ids_llama_tokenize"].get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(string_form.encode(text), pair_form.encode(text));
  }
}

}  // namespace
}  // namespace serval
