// Python str semantics over UTF-8 strings (see string_methods.h).
#include "chat/jinja/string_methods.h"

#include <utf8proc.h>

#include <algorithm>

namespace serval::jinja {

namespace {

// Decodes one code point at s[i], advancing i. Invalid bytes decode as themselves (Latin-1).
char32_t decode_one(std::string_view s, size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return b0;
  }
  char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1f) : len == 3 ? (b0 & 0x0f) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b >> 6) != 2) {
      ++i;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  i += len;
  return cp;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

template <typename Map>
std::string map_code_points(std::string_view s, Map map) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) utf8_append(out, map(decode_one(s, i)));
  return out;
}

bool is_cased_letter(char32_t cp) {
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

char32_t to_upper(char32_t cp) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}
char32_t to_lower(char32_t cp) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}
char32_t to_title(char32_t cp) {
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

std::optional<std::string> optional_string_arg(const CallArgs& args, std::string_view name, size_t index,
                                               std::string_view method) {
  const Value* v = args.get(name, index);
  if (v == nullptr || v->is_none()) return std::nullopt;
  if (!v->is_string())
    throw RenderError("str." + std::string(method) + "() argument must be str or None, not " +
                      v->type_name());
  return v->as_string();
}

int64_t int_arg(const CallArgs& args, std::string_view name, size_t index, int64_t fallback) {
  const Value* v = args.get(name, index);
  if (v == nullptr) return fallback;
  if (!v->is_int() && !v->is_bool())
    throw RenderError("expected an integer argument '" + std::string(name) + "'");
  return v->as_int();
}

const std::string& string_arg(const CallArgs& args, std::string_view name, size_t index,
                              std::string_view method) {
  const Value* v = args.get(name, index);
  if (v == nullptr)
    throw RenderError("str." + std::string(method) + "() missing argument '" + std::string(name) + "'");
  if (!v->is_string())
    throw RenderError("str." + std::string(method) + "() argument must be str, not " + v->type_name());
  return v->as_string();
}

Value string_list(std::vector<std::string> parts) {
  ValueList out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value(std::move(out));
}

// Python str.format with {} / {0} / {name} fields and {{ }} escapes; no format specs beyond plain fields.
std::string py_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos)
        throw RenderError("str.format(): single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!") != std::string::npos)
        throw RenderError("str.format(): format specs are not supported ('{" + field + "}')");
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index < args.positional.size()) v = &args.positional[auto_index];
        ++auto_index;
      } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
        size_t k = std::stoul(field);
        if (k < args.positional.size()) v = &args.positional[k];
      } else {
        for (const auto& [name, value] : args.keyword)
          if (name == field) v = &value;
      }
      if (v == nullptr) throw RenderError("str.format(): no argument for field '{" + field + "}'");
      out += v->str();
      i = close;
    } else if (c == '}') {
      throw RenderError("str.format(): single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::vector<char32_t> utf8_decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_one(s, i));
  return out;
}

std::string utf8_encode(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) utf8_append(out, cp);
  return out;
}

int64_t utf8_length(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

bool is_python_space(char32_t cp) {
  if (cp <= 0x20) return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  std::vector<char32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_it = [&](char32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : is_python_space(cp);
  };
  // Walk code points, remembering the byte offsets of the first and one-past-last kept code point.
  size_t begin = 0, end = 0, i = 0;
  bool seen_kept = false;
  while (i < s.size()) {
    size_t start = i;
    char32_t cp = decode_one(s, i);
    if (!strip_it(cp)) {
      if (!seen_kept) begin = start;
      seen_kept = true;
      end = i;
    }
  }
  if (!seen_kept) return "";  // every code point is strippable
  size_t b = left ? begin : 0;
  size_t e = right ? end : s.size();
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RenderError("str.split(): empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size()) {
      size_t j = i;
      if (!is_python_space(decode_one(s, j))) break;
      i = j;
    }
  };
  skip_space();
  while (i < s.size()) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      // The rest, with trailing whitespace removed, is the last part.
      out.push_back(py_strip(s.substr(i), std::nullopt, false, true));
      return out;
    }
    size_t start = i;
    while (i < s.size()) {
      size_t j = i;
      if (is_python_space(decode_one(s, j))) break;
      i = j;
    }
    out.emplace_back(s.substr(start, i - start));
    skip_space();
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RenderError("str.rsplit(): empty separator");
    size_t end = s.size();
    while (static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  std::vector<char32_t> cps = utf8_decode(s);
  int64_t i = static_cast<int64_t>(cps.size());
  while (i > 0 && is_python_space(cps[i - 1])) --i;
  while (i > 0) {
    if (static_cast<int64_t>(out.size()) >= maxsplit) {
      int64_t b = 0;
      while (b < i && is_python_space(cps[b])) ++b;
      out.push_back(utf8_encode(std::vector<char32_t>(cps.begin() + b, cps.begin() + i)));
      break;
    }
    int64_t end = i;
    while (i > 0 && !is_python_space(cps[i - 1])) --i;
    out.push_back(utf8_encode(std::vector<char32_t>(cps.begin() + i, cps.begin() + end)));
    while (i > 0 && is_python_space(cps[i - 1])) --i;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts repl between every code point (and at both ends).
    std::vector<char32_t> cps = utf8_decode(s);
    int64_t done = 0;
    for (char32_t cp : cps) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      utf8_append(out, cp);
    }
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(repl);
    pos = hit + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

std::string py_upper(std::string_view s) {
  if (is_ascii(s)) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    return out;
  }
  return map_code_points(s, to_upper);
}

std::string py_lower(std::string_view s) {
  if (is_ascii(s)) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
  }
  return map_code_points(s, to_lower);
}

std::string py_title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = decode_one(s, i);
    bool cased = is_cased_letter(cp);
    utf8_append(out, cased ? (prev_cased ? to_lower(cp) : to_title(cp)) : cp);
    prev_cased = cased;
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    char32_t cp = decode_one(s, i);
    utf8_append(out, first ? to_title(cp) : to_lower(cp));
    first = false;
  }
  return out;
}

bool is_string_method(std::string_view name) {
  static const char* const kNames[] = {
      "startswith", "endswith", "strip",   "lstrip",       "rstrip",      "split",      "rsplit",
      "splitlines", "replace",  "upper",   "lower",        "title",       "capitalize", "find",
      "rfind",      "count",    "join",    "format",       "isdigit",     "isalpha",    "isalnum",
      "isspace",    "islower",  "isupper", "removeprefix", "removesuffix"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; });
}

std::optional<Value> call_string_method(const std::string& s, std::string_view name, const CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    const Value* arg = args.get("prefix", 0);
    if (arg == nullptr) throw RenderError("str." + std::string(name) + "() takes at least 1 argument");
    auto test = [&](const std::string& affix) {
      if (affix.size() > s.size()) return false;
      return name == "startswith" ? s.compare(0, affix.size(), affix) == 0
                                  : s.compare(s.size() - affix.size(), affix.size(), affix) == 0;
    };
    if (arg->is_string()) return Value(test(arg->as_string()));
    if (arg->is_list()) {
      for (const Value& v : arg->as_list()) {
        if (!v.is_string()) throw RenderError("str." + std::string(name) + "() tuple items must be str");
        if (test(v.as_string())) return Value(true);
      }
      return Value(false);
    }
    throw RenderError("str." + std::string(name) + "() argument must be str or a tuple of str, not " +
                      arg->type_name());
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto chars = optional_string_arg(args, "chars", 0, name);
    return Value(py_strip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    auto sep = optional_string_arg(args, "sep", 0, name);
    int64_t maxsplit = int_arg(args, "maxsplit", 1, -1);
    return string_list(name == "split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit));
  }
  if (name == "splitlines") {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\r') {
        lines.push_back(s.substr(start, i - start));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < s.size()) lines.push_back(s.substr(start));
    return string_list(std::move(lines));
  }
  if (name == "replace") {
    return Value(py_replace(s, string_arg(args, "old", 0, name), string_arg(args, "new", 1, name),
                            int_arg(args, "count", 2, -1)));
  }
  if (name == "upper") return Value(py_upper(s));
  if (name == "lower") return Value(py_lower(s));
  if (name == "title") return Value(py_title(s));
  if (name == "capitalize") return Value(py_capitalize(s));
  if (name == "find" || name == "rfind") {
    const std::string& sub = string_arg(args, "sub", 0, name);
    size_t hit = name == "find" ? s.find(sub) : s.rfind(sub);
    return Value(hit == std::string::npos ? int64_t{-1} : utf8_length(std::string_view(s).substr(0, hit)));
  }
  if (name == "count") {
    const std::string& sub = string_arg(args, "sub", 0, name);
    if (sub.empty()) return Value(utf8_length(s) + 1);
    int64_t n = 0;
    for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    const Value* items = args.get("iterable", 0);
    if (items == nullptr || !items->is_list()) throw RenderError("str.join() argument must be a list");
    std::string out;
    bool first = true;
    for (const Value& v : items->as_list()) {
      if (!v.is_string()) throw RenderError("str.join(): sequence item must be str, not " + v.type_name());
      if (!first) out += s;
      out += v.as_string();
      first = false;
    }
    return Value(std::move(out));
  }
  if (name == "format") return Value(py_format(s, args));
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string& affix = string_arg(args, "affix", 0, name);
    if (name == "removeprefix" && s.compare(0, affix.size(), affix) == 0)
      return Value(s.substr(affix.size()));
    if (name == "removesuffix" && !affix.empty() && s.size() >= affix.size() &&
        s.compare(s.size() - affix.size(), affix.size(), affix) == 0)
      return Value(s.substr(0, s.size() - affix.size()));
    return Value(s);
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace") {
    if (s.empty()) return Value(false);
    std::vector<char32_t> cps = utf8_decode(s);
    return Value(std::all_of(cps.begin(), cps.end(), [&](char32_t cp) {
      auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
      bool digit = c == UTF8PROC_CATEGORY_ND;
      bool alpha = c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
      if (name == "isdigit") return digit;
      if (name == "isalpha") return alpha;
      if (name == "isalnum") return digit || alpha;
      return is_python_space(cp);
    }));
  }
  if (name == "islower" || name == "isupper") {
    bool any_cased = false;
    for (char32_t cp : utf8_decode(s)) {
      if (!is_cased_letter(cp)) continue;
      any_cased = true;
      if (name == "islower" ? to_lower(cp) != cp : to_upper(cp) != cp) return Value(false);
    }
    return Value(any_cased);
  }
  return std::nullopt;
}

}  // namespace serval::jinja
