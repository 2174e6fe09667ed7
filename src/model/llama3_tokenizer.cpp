// Llama-3-style tokenizer derived from the embedded Qwen2.5 one (see llama3_tokenizer.h for the recipe).
#include "model/llama3_tokenizer.h"

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "model/embedded_assets.h"

namespace serval {

namespace {

using nlohmann::json;

constexpr int kNumRegular = 128000;
constexpr int kNumSpecial = 256;

// Llama 3's special-token table: named ones at their real ids, reserved ones numbered in order elsewhere.
std::vector<std::string> llama3_special_names() {
  std::vector<std::string> names(kNumSpecial);
  names[0] = "<|begin_of_text|>";
  names[1] = "<|end_of_text|>";
  names[4] = "<|finetune_right_pad_id|>";
  names[6] = "<|start_header_id|>";
  names[7] = "<|end_header_id|>";
  names[8] = "<|eom_id|>";
  names[9] = "<|eot_id|>";
  names[10] = "<|python_tag|>";
  int reserved = 0;
  for (auto& n : names)
    if (n.empty()) n = "<|reserved_special_token_" + std::to_string(reserved++) + "|>";
  return names;
}

}  // namespace

TokenizerFiles derive_llama3_tokenizer() {
  json qwen = json::parse(assets::qwen25_tokenizer_json());
  const json& qvocab = qwen["model"]["vocab"];
  json vocab = json::object();
  std::unordered_set<std::string> kept;
  for (auto it = qvocab.begin(); it != qvocab.end(); ++it) {
    if (it.value().get<int>() < kNumRegular) {
      vocab[it.key()] = it.value();
      kept.insert(it.key());
    }
  }
  check(static_cast<int>(kept.size()) == kNumRegular, "embedded Qwen2.5 tokenizer has fewer than 128000 regular tokens");
  json merges = json::array();
  for (const json& m : qwen["model"]["merges"]) {
    std::string a, b;
    if (m.is_array()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    }
    if (kept.count(a) && kept.count(b) && kept.count(a + b)) merges.push_back(json::array({a, b}));
  }

  const std::vector<std::string> specials = llama3_special_names();
  json added = json::array();
  json added_decoder = json::object();
  for (int i = 0; i < kNumSpecial; ++i) {
    json t = {{"id", kNumRegular + i}, {"content", specials[static_cast<size_t>(i)]}, {"single_word", false},
              {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}};
    added.push_back(t);
    t.erase("id");
    added_decoder[std::to_string(kNumRegular + i)] = t;
  }

  json tok = json::object();
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  tok["added_tokens"] = added;
  tok["normalizer"] = nullptr;
  tok["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"},
                     {"pattern",
                      {{"Regex",
                        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
                     {"behavior", "Isolated"},
                     {"invert", false}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
  const json bos_piece = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  tok["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       json::array(
           {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
            {{"type", "TemplateProcessing"},
             {"single", json::array({bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
             {"pair", json::array({bos_piece,
                                   {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                   {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 1}}}},
                                   {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
             {"special_tokens",
              {{"<|begin_of_text|>",
                {{"id", "<|begin_of_text|>"}, {"ids", json::array({128000})}, {"tokens", json::array({"<|begin_of_text|>"})}}}}}}})}};
  tok["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  tok["model"] = {{"type", "BPE"},          {"dropout", nullptr},         {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                  {"byte_fallback", false}, {"ignore_merges", true},    {"vocab", vocab},
                  {"merges", merges}};

  json cfg = {{"added_tokens_decoder", added_decoder},
              {"bos_token", "<|begin_of_text|>"},
              {"chat_template", std::string(assets::llama32_chat_template())},
              {"clean_up_tokenization_spaces", true},
              {"eos_token", "<|eot_id|>"},
              {"model_input_names", json::array({"input_ids", "attention_mask"})},
              {"model_max_length", 131072},
              {"tokenizer_class", "PreTrainedTokenizerFast"}};
  return {tok.dump(), cfg.dump(2)};
}

}  // namespace serval
