// PreTokenizer: tokenizer.json's "pre_tokenizer" (Split, ByteLevel, Metaspace, Digits, Whitespace,
// WhitespaceSplit, Sequence), turning one normalized text segment into the words the model encodes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/pattern.h"

namespace serval {

// How a Split keeps the delimiters it finds (Hugging Face's SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// One piece of text during pre-tokenization; at_origin = it starts at offset 0 of the original input.
struct PreToken {
  std::string text;
  bool at_origin = false;
};

class PreTokenizer {
 public:
  // null -> no pre-tokenization (the whole segment is one word).
  static PreTokenizer from_json(const nlohmann::json& j);

  // Appends the words of one normalized segment to `words`.
  void apply(std::string segment, bool at_origin, std::vector<std::string>& words) const;

  // True when a ByteLevel step maps bytes to GPT-2's printable characters.
  bool byte_level() const { return byte_level_; }

 private:
  enum class Kind { kSplit, kByteLevel, kMetaspace, kDigits, kWhitespace, kWhitespaceSplit };
  enum class Prepend { kAlways, kFirst, kNever };
  struct Step {
    Kind kind;
    Pattern pattern;                       // Split, Whitespace
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;                   // Split
    bool add_prefix_space = false;         // ByteLevel
    bool use_regex = true;                 // ByteLevel
    std::string replacement;               // Metaspace
    Prepend prepend = Prepend::kAlways;    // Metaspace
    bool split = true;                     // Metaspace
    bool individual_digits = false;        // Digits
  };
  void add(const nlohmann::json& j, int depth);
  void run_step(const Step& s, PreToken piece, std::vector<PreToken>& out) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// Splits text at the matched spans according to behavior (after optional inversion); empty pieces dropped.
// `matches` are sorted, non-overlapping [start, end) spans.
std::vector<std::pair<size_t, size_t>> split_spans(size_t length, const std::vector<std::pair<size_t, size_t>>& matches,
                                                   SplitBehavior behavior, bool invert);

}  // namespace serval
