// Pre-tokenizer steps, following the semantics of Hugging Face tokenizers' pre_tokenizers module.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace serval {

namespace {

// GPT-2's pre-tokenization regex (ByteLevel with use_regex).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

SplitBehavior parse_behavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  throw Error("tokenizer.json: pre_tokenizer Split has unknown behavior \"" + s + "\"");
}

// One span per character for which pred holds.
template <typename Pred>
std::vector<std::pair<size_t, size_t>> char_matches(std::string_view text, Pred pred) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8::char_len(text, i);
    if (pred(utf8::decode_at(text, i))) spans.emplace_back(i, i + n);
    i += n;
  }
  return spans;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> split_spans(size_t length, const std::vector<std::pair<size_t, size_t>>& matches,
                                                   SplitBehavior behavior, bool invert) {
  // Cover the text with (span, is_match) pieces.
  struct Piece {
    size_t start, end;
    bool is_match;
  };
  std::vector<Piece> pieces;
  size_t prev = 0;
  for (auto [s, e] : matches) {
    if (prev != s) pieces.push_back({prev, s, false});
    pieces.push_back({s, e, true});
    prev = e;
  }
  if (prev != length) pieces.push_back({prev, length, false});
  if (invert)
    for (Piece& p : pieces) p.is_match = !p.is_match;

  std::vector<std::pair<size_t, size_t>> out;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Piece& p : pieces)
        if (!p.is_match) out.emplace_back(p.start, p.end);
      break;
    case SplitBehavior::kIsolated:
      for (const Piece& p : pieces) out.emplace_back(p.start, p.end);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Piece& p : pieces) {
        if (p.is_match && !previous_match && !out.empty()) {
          out.back().second = p.end;
        } else {
          out.emplace_back(p.start, p.end);
        }
        previous_match = p.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().first = it->start;
        } else {
          out.emplace_back(it->start, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Piece& p : pieces) {
        if (p.is_match == previous_match && !out.empty()) {
          out.back().second = p.end;
        } else {
          out.emplace_back(p.start, p.end);
        }
        previous_match = p.is_match;
      }
      break;
    }
  }
  std::erase_if(out, [](const auto& span) { return span.first == span.second; });
  return out;
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (!j.is_null()) p.add(j, 0);
  return p;
}

void PreTokenizer::add(const nlohmann::json& j, int depth) {
  if (depth > 16) throw Error("tokenizer.json: pre_tokenizer Sequence nested too deeply");
  const std::string type = json_fields::get_type(j, "pre_tokenizer");
  const std::string where = "pre_tokenizer " + type;
  Step step{};
  if (type == "Sequence") {
    for (const auto& child : json_fields::get_array(j, "pretokenizers", where)) add(child, depth + 1);
    return;
  } else if (type == "Split") {
    step.kind = Kind::kSplit;
    if (!j.contains("pattern")) throw Error("tokenizer.json: pre_tokenizer Split is missing \"pattern\"");
    step.pattern = Pattern::from_json(j["pattern"], where);
    step.behavior = parse_behavior(json_fields::get_string(j, "behavior", where, {}, true));
    step.invert = json_fields::get_bool(j, "invert", where, false);
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    step.add_prefix_space = json_fields::get_bool(j, "add_prefix_space", where, true);
    step.use_regex = json_fields::get_bool(j, "use_regex", where, true);
    if (step.use_regex) step.pattern = Pattern::from_json({{"Regex", kGpt2Pattern}}, where);
    byte_level_ = true;
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    step.replacement = json_fields::get_string(j, "replacement", where, "\xE2\x96\x81");
    if (step.replacement.empty() || utf8::char_len(step.replacement, 0) != step.replacement.size())
      throw Error("tokenizer.json: pre_tokenizer Metaspace replacement must be one character");
    step.split = json_fields::get_bool(j, "split", where, true);
    if (const auto* scheme = json_fields::find(j, "prepend_scheme")) {
      std::string s = scheme->is_string() ? scheme->get<std::string>() : "";
      if (s == "always") step.prepend = Prepend::kAlways;
      else if (s == "first") step.prepend = Prepend::kFirst;
      else if (s == "never") step.prepend = Prepend::kNever;
      else throw Error("tokenizer.json: pre_tokenizer Metaspace has unknown prepend_scheme " + scheme->dump());
    } else {
      step.prepend = json_fields::get_bool(j, "add_prefix_space", where, true) ? Prepend::kAlways : Prepend::kNever;
    }
  } else if (type == "Digits") {
    step.kind = Kind::kDigits;
    step.individual_digits = json_fields::get_bool(j, "individual_digits", where, false);
  } else if (type == "Whitespace") {
    step.kind = Kind::kWhitespace;
    step.pattern = Pattern::from_json({{"Regex", R"(\w+|[^\w\s]+)"}}, where);
  } else if (type == "WhitespaceSplit") {
    step.kind = Kind::kWhitespaceSplit;
  } else {
    throw Error("tokenizer.json: unsupported pre_tokenizer type \"" + type + "\"");
  }
  steps_.push_back(std::move(step));
}

void PreTokenizer::run_step(const Step& s, PreToken piece, std::vector<PreToken>& out) const {
  auto emit_spans = [&](const std::string& text, const std::vector<std::pair<size_t, size_t>>& spans) {
    for (auto [b, e] : spans) out.push_back({text.substr(b, e - b), piece.at_origin && b == 0});
  };
  std::string& text = piece.text;
  switch (s.kind) {
    case Kind::kSplit:
      emit_spans(text, split_spans(text.size(), s.pattern.find_all(text), s.behavior, s.invert));
      return;
    case Kind::kByteLevel: {
      if (s.add_prefix_space && text[0] != ' ') text.insert(0, " ");
      if (!s.use_regex) {
        out.push_back({byte_level::encode(text), piece.at_origin});
        return;
      }
      for (auto [b, e] : split_spans(text.size(), s.pattern.find_all(text), SplitBehavior::kIsolated, false))
        out.push_back({byte_level::encode(std::string_view(text).substr(b, e - b)), piece.at_origin && b == 0});
      return;
    }
    case Kind::kMetaspace: {
      std::string replaced = Pattern::literal(" ").replace_all(text, s.replacement);
      bool starts = replaced.compare(0, s.replacement.size(), s.replacement) == 0;
      if (!starts && (s.prepend == Prepend::kAlways || (s.prepend == Prepend::kFirst && piece.at_origin)))
        replaced.insert(0, s.replacement);
      if (!s.split) {
        out.push_back({std::move(replaced), piece.at_origin});
        return;
      }
      emit_spans(replaced, split_spans(replaced.size(), Pattern::literal(s.replacement).find_all(replaced),
                                       SplitBehavior::kMergedWithNext, false));
      return;
    }
    case Kind::kDigits: {
      auto spans = char_matches(text, utf8::is_numeric);
      emit_spans(text, split_spans(text.size(), spans,
                                   s.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous, false));
      return;
    }
    case Kind::kWhitespace:
      emit_spans(text, split_spans(text.size(), s.pattern.find_all(text), SplitBehavior::kRemoved, true));
      return;
    case Kind::kWhitespaceSplit:
      emit_spans(text, split_spans(text.size(), char_matches(text, utf8::is_whitespace), SplitBehavior::kRemoved, false));
      return;
  }
}

void PreTokenizer::apply(std::string segment, bool at_origin, std::vector<std::string>& words) const {
  if (segment.empty()) return;
  std::vector<PreToken> pieces;
  pieces.push_back({std::move(segment), at_origin});
  std::vector<PreToken> next;
  for (const Step& s : steps_) {
    next.clear();
    for (PreToken& p : pieces)
      if (!p.text.empty()) run_step(s, std::move(p), next);
    pieces.swap(next);
  }
  for (PreToken& p : pieces)
    if (!p.text.empty()) words.push_back(std::move(p.text));
}

}  // namespace serval
