// PostProcessor: the special tokens encode(text, add_special_tokens=true) wraps around a single sequence,
// from tokenizer.json's "post_processor" (TemplateProcessing, Bert/Roberta, ByteLevel, Sequence) or rebuilt
// from tokenizer_config.json's add_bos_token/add_eos_token as transformers does.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace serval {

struct PostProcessor {
  std::vector<int32_t> prefix;  // ids before the text's ids
  std::vector<int32_t> suffix;  // ids after them

  // null -> nothing added.
  static PostProcessor from_json(const nlohmann::json& j);
};

}  // namespace serval
