// Normalizer: tokenizer.json's "normalizer" (NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace, Strip,
// StripAccents, Sequence), flattened into a list of steps applied to each text segment.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/pattern.h"

namespace serval {

class Normalizer {
 public:
  // null -> identity. Throws serval::Error for an unknown type or bad fields.
  static Normalizer from_json(const nlohmann::json& j);

  void apply(std::string& text) const;
  bool empty() const { return steps_.empty(); }

 private:
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kPrepend, kReplace, kStrip, kStripAccents };
  struct Step {
    Kind kind;
    std::string content;  // Prepend's prefix, Replace's replacement
    Pattern pattern;      // Replace
    bool left = false, right = false;  // Strip
  };
  void add(const nlohmann::json& j, int depth);
  std::vector<Step> steps_;
};

}  // namespace serval
