// Pattern matching for literal strings (plain search) and regexes (PCRE2).
#include "tokenizer/pattern.h"

#include "core/error.h"

namespace serval {

Pattern Pattern::from_json(const nlohmann::json& j, const std::string& where) {
  Pattern p;
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    p.literal_ = j["String"].get<std::string>();
    if (p.literal_.empty()) throw Error("tokenizer.json: " + where + " has an empty String pattern");
    return p;
  }
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    p.regex_ = std::make_shared<Regex>(j["Regex"].get<std::string>(), "tokenizer.json: " + where);
    return p;
  }
  throw Error("tokenizer.json: " + where + " pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

Pattern Pattern::literal(std::string s) {
  Pattern p;
  p.literal_ = std::move(s);
  return p;
}

std::vector<std::pair<size_t, size_t>> Pattern::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> spans;
  if (regex_) {
    regex_->find_all(text, [&](size_t s, size_t e) { spans.emplace_back(s, e); });
    return spans;
  }
  size_t pos = 0;
  while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
    spans.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
  return spans;
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  size_t prev = 0;
  for (auto [s, e] : find_all(text)) {
    out.append(text.substr(prev, s - prev));
    out.append(content);
    prev = e;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace serval
