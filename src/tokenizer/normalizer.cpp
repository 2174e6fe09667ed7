// Normalizer steps; Unicode normalization and case mapping via libutf8proc.
#include "tokenizer/normalizer.h"

#include <cstdlib>

#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace serval {

namespace {

bool is_ascii(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

void unicode_normalize(std::string& text, int options) {
  if (is_ascii(text)) return;  // every normal form is the identity on ASCII
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &out,
                                    static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (n < 0) throw Error(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
  text.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
}

// Rust's str::to_lowercase; NOTE: the context-dependent final-sigma rule is not applied (σ everywhere).
void lowercase(std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = utf8::decode_at(text, i);
    i += utf8::char_len(text, i);
    if (cp == 0x130) {  // İ lowercases to i + combining dot above (a full, not simple, mapping)
      out += "i\xCC\x87";
      continue;
    }
    utf8::append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  text = std::move(out);
}

void strip(std::string& text, bool left, bool right) {
  size_t begin = 0, end = text.size();
  if (left) {
    while (begin < end) {
      size_t n = utf8::char_len(text, begin);
      if (!utf8::is_whitespace(utf8::decode_at(text, begin))) break;
      begin += n;
    }
  }
  if (right) {
    while (end > begin) {
      size_t k = end - 1;
      while (k > begin && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
      if (!utf8::is_whitespace(utf8::decode_at(text, k))) break;
      end = k;
    }
  }
  text = text.substr(begin, end - begin);
}

void strip_accents(std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8::char_len(text, i);
    char32_t cp = utf8::decode_at(text, i);
    if (utf8proc_category(static_cast<utf8proc_int32_t>(cp)) != UTF8PROC_CATEGORY_MN) out.append(text, i, n);
    i += n;
  }
  text = std::move(out);
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  if (!j.is_null()) n.add(j, 0);
  return n;
}

void Normalizer::add(const nlohmann::json& j, int depth) {
  if (depth > 16) throw Error("tokenizer.json: normalizer Sequence nested too deeply");
  const std::string type = json_fields::get_type(j, "normalizer");
  const std::string where = "normalizer " + type;
  Step step{};
  if (type == "Sequence") {
    for (const auto& child : json_fields::get_array(j, "normalizers", where)) add(child, depth + 1);
    return;
  } else if (type == "NFC") {
    step.kind = Kind::kNfc;
  } else if (type == "NFD") {
    step.kind = Kind::kNfd;
  } else if (type == "NFKC") {
    step.kind = Kind::kNfkc;
  } else if (type == "NFKD") {
    step.kind = Kind::kNfkd;
  } else if (type == "Lowercase") {
    step.kind = Kind::kLowercase;
  } else if (type == "StripAccents") {
    step.kind = Kind::kStripAccents;
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    step.left = json_fields::get_bool(j, "strip_left", where, true);
    step.right = json_fields::get_bool(j, "strip_right", where, true);
  } else if (type == "Prepend") {
    step.kind = Kind::kPrepend;
    step.content = json_fields::get_string(j, "prepend", where, {}, true);
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    if (!j.contains("pattern")) throw Error("tokenizer.json: normalizer Replace is missing \"pattern\"");
    step.pattern = Pattern::from_json(j["pattern"], where);
    step.content = json_fields::get_string(j, "content", where, {}, true);
  } else {
    throw Error("tokenizer.json: unsupported normalizer type \"" + type + "\"");
  }
  steps_.push_back(std::move(step));
}

void Normalizer::apply(std::string& text) const {
  for (const Step& s : steps_) {
    switch (s.kind) {
      case Kind::kNfc: unicode_normalize(text, UTF8PROC_COMPOSE); break;
      case Kind::kNfd: unicode_normalize(text, UTF8PROC_DECOMPOSE); break;
      case Kind::kNfkc: unicode_normalize(text, UTF8PROC_COMPOSE | UTF8PROC_COMPAT); break;
      case Kind::kNfkd: unicode_normalize(text, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT); break;
      case Kind::kLowercase: lowercase(text); break;
      case Kind::kStripAccents: strip_accents(text); break;
      case Kind::kStrip: strip(text, s.left, s.right); break;
      case Kind::kPrepend:
        if (!text.empty()) text.insert(0, s.content);
        break;
      case Kind::kReplace: text = s.pattern.replace_all(text, s.content); break;
    }
  }
}

}  // namespace serval
