// Decoder: tokenizer.json's "decoder" (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder,
// Sequence) turning token strings back into text exactly as Hugging Face tokenizers' decode_chain does.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/pattern.h"

namespace serval {

class Decoder {
 public:
  // null -> tokens joined with " " (what tokenizers does without a decoder).
  static Decoder from_json(const nlohmann::json& j);

  std::string decode(std::vector<std::string> tokens) const;

  // True when a ByteFallback step turns <0xNN> tokens into bytes.
  bool has_byte_fallback() const { return has_byte_fallback_; }

 private:
  enum class Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip, kBpeSuffix };
  struct Step {
    Kind kind;
    Pattern pattern;      // Replace
    std::string content;  // Replace's replacement, Metaspace's replacement, Strip's char, BPEDecoder's suffix
    bool prepend = true;  // Metaspace: prepend_scheme != never (strip the first token's replacement chars)
    size_t start = 0, stop = 0;  // Strip
  };
  void add(const nlohmann::json& j, int depth);
  void run_step(const Step& s, std::vector<std::string>& tokens) const;

  std::vector<Step> steps_;
  bool none_ = true;
  bool has_byte_fallback_ = false;
};

}  // namespace serval
