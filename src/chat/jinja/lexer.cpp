// Jinja2 lexer (see lexer.h). Mirrors jinja2/lexer.py: the whitespace rules decide byte-exact output.
#include "chat/jinja/lexer.h"

#include <cstring>

#include "chat/jinja/string_methods.h"
#include "core/error.h"

namespace serval::jinja {

namespace {

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options) : src_(std::move(source)), opt_(options) {}

  std::vector<Token> run() {
    bool line_starting = true;  // the previous match ended with a newline (or we are at the start)
    bool strip_next = false;    // the previous tag ended with '-': strip leading whitespace of the text
    while (pos_ < src_.size()) {
      size_t tag = find_tag_start(pos_);
      size_t text_begin = pos_;
      std::string text = src_.substr(pos_, (tag == std::string::npos ? src_.size() : tag) - pos_);
      if (strip_next) {
        size_t skip = leading_space_bytes(text, 0);
        text.erase(0, skip);
        text_begin += skip;
      }
      strip_next = false;
      int text_line = line_at(text_begin), text_col = column_at(text_begin);
      if (tag == std::string::npos) {
        emit_text(std::move(text), text_line, text_col);
        advance_to(src_.size());
        break;
      }
      char marker = src_[tag + 1];
      char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      if (sign == '-') {
        text.erase(trailing_space_start(text));
      } else if (sign != '+' && opt_.lstrip_blocks && marker != '{') {
        size_t line_pos = text.rfind('\n');
        line_pos = line_pos == std::string::npos ? 0 : line_pos + 1;
        if ((line_pos > 0 || line_starting) && line_pos < text.size() && only_inline_space(text, line_pos))
          text.erase(line_pos);
      }
      emit_text(std::move(text), text_line, text_col);
      advance_to(tag);
      size_t body = tag + 2 + (sign != 0 ? 1 : 0);
      if (marker == '#') {
        size_t end = find_comment_end(body);
        if (end == std::string::npos) fail(tag, "missing end of comment tag '#}'");
        char end_sign = src_[end] == '#' ? 0 : src_[end];
        size_t after = end + (end_sign != 0 ? 3 : 2);
        after = finish_tag(after, end_sign, strip_next);
        line_starting = src_[after - 1] == '\n';
        advance_to(after);
        continue;
      }
      bool block = marker == '%';
      tokens_.push_back({block ? TokenType::BlockBegin : TokenType::VarBegin, "", line_, column_at(tag)});
      advance_to(body);
      char end_sign = lex_tag_body(block, tag);
      size_t after = finish_tag(pos_, block ? end_sign : (end_sign == '-' ? '-' : '+'), strip_next);
      line_starting = src_[after - 1] == '\n';
      advance_to(after);
    }
    tokens_.push_back({TokenType::End, "", line_, column_at(pos_)});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& message) {
    throw Error("chat template line " + std::to_string(line_at(at)) + ": " + message + " (column " +
                std::to_string(column_at(at)) + ")");
  }

  size_t find_tag_start(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
    }
    return std::string::npos;
  }

  size_t find_comment_end(size_t from) const {
    for (size_t p = from; p + 1 < src_.size(); ++p) {
      if ((src_[p] == '-' || src_[p] == '+') && src_.compare(p + 1, 2, "#}") == 0) return p;
      if (src_[p] == '#' && src_[p + 1] == '}') return p;
    }
    return std::string::npos;
  }

  // After a tag's closing delimiter at `after`: '-' eats following whitespace (marked for the next
  // text, so that line_starting sees it), '+' keeps it, and plain block/comment ends eat one "\n" with
  // trim_blocks.
  size_t finish_tag(size_t after, char end_sign, bool& strip_next) {
    if (end_sign == '-') {
      size_t skip = leading_space_bytes(src_, after);
      strip_next = false;
      return after + skip;
    }
    if (end_sign == 0 && opt_.trim_blocks && after < src_.size() && src_[after] == '\n') return after + 1;
    return after;
  }

  // Lexes the inside of {{ }} / {% %} up to and including its end delimiter; returns the end's sign (0, '-',
  // '+').
  char lex_tag_body(bool block, size_t tag_start) {
    std::vector<char> balance;
    while (true) {
      while (pos_ < src_.size() && std::strchr(" \t\n\r\f\v", src_[pos_]) != nullptr) advance_to(pos_ + 1);
      if (pos_ >= src_.size())
        fail(tag_start, block ? "missing end of block tag '%}'" : "missing end of variable '}}'");
      if (balance.empty()) {
        const char* close = block ? "%}" : "}}";
        char sign = 0;
        size_t p = pos_;
        if (src_[p] == '-' || (block && src_[p] == '+')) {
          sign = src_[p];
          ++p;
        }
        if (src_.compare(p, 2, close) == 0) {
          tokens_.push_back({block ? TokenType::BlockEnd : TokenType::VarEnd, "", line_, column_at(pos_)});
          advance_to(p + 2);
          return sign;
        }
      }
      lex_token(balance);
    }
  }

  void lex_token(std::vector<char>& balance) {
    size_t start = pos_;
    char c = src_[pos_];
    int line = line_, col = column_at(pos_);
    if (c == '\'' || c == '"') {
      std::string value;
      size_t p = pos_ + 1;
      while (true) {
        if (p >= src_.size()) fail(start, "unterminated string literal");
        if (src_[p] == c) break;
        if (src_[p] == '\\' && p + 1 < src_.size()) {
          p = unescape(p, value);
        } else {
          value += src_[p++];
        }
      }
      tokens_.push_back({TokenType::String, std::move(value), line, col});
      advance_to(p + 1);
      return;
    }
    if (is_digit(c)) {
      size_t p = pos_;
      while (p < src_.size() && (is_digit(src_[p]) || src_[p] == '_')) ++p;
      bool is_float = false;
      bool after_dot = start > 0 && src_[start - 1] == '.';
      if (!after_dot && p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
        is_float = true;
        ++p;
        while (p < src_.size() && (is_digit(src_[p]) || src_[p] == '_')) ++p;
      }
      if (!after_dot && p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
        size_t q = p + 1;
        if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
        if (q < src_.size() && is_digit(src_[q])) {
          is_float = true;
          p = q;
          while (p < src_.size() && is_digit(src_[p])) ++p;
        }
      }
      std::string text;
      for (size_t k = start; k < p; ++k)
        if (src_[k] != '_') text += src_[k];
      tokens_.push_back({is_float ? TokenType::Float : TokenType::Int, std::move(text), line, col});
      advance_to(p);
      return;
    }
    if (is_name_start(c)) {
      size_t p = pos_;
      while (p < src_.size() && (is_name_start(src_[p]) || is_digit(src_[p]))) ++p;
      tokens_.push_back({TokenType::Name, src_.substr(start, p - start), line, col});
      advance_to(p);
      return;
    }
    static const char* const kTwoCharOps[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwoCharOps) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({TokenType::Op, op, line, col});
        advance_to(pos_ + 2);
        return;
      }
    }
    if (std::strchr("+-*/%~|.,:()[]{}=<>", c) == nullptr)
      fail(start, std::string("unexpected character '") + c + "'");
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(start, std::string("unexpected '") + c + "'");
      if (balance.back() != c)
        fail(start, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      balance.pop_back();
    }
    tokens_.push_back({TokenType::Op, std::string(1, c), line, col});
    advance_to(pos_ + 1);
  }

  // Python's unicode-escape for the escape sequence at src_[p] == '\\'; returns the position after it.
  size_t unescape(size_t p, std::string& out) {
    char e = src_[p + 1];
    auto hex = [&](size_t from, int count) -> long {
      if (from + count > src_.size()) return -1;
      long v = 0;
      for (int k = 0; k < count; ++k) {
        char h = src_[from + k];
        int d = is_digit(h)              ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
      }
      return v;
    };
    switch (e) {
      case 'n':
        out += '\n';
        return p + 2;
      case 't':
        out += '\t';
        return p + 2;
      case 'r':
        out += '\r';
        return p + 2;
      case '\\':
        out += '\\';
        return p + 2;
      case '\'':
        out += '\'';
        return p + 2;
      case '"':
        out += '"';
        return p + 2;
      case 'a':
        out += '\a';
        return p + 2;
      case 'b':
        out += '\b';
        return p + 2;
      case 'f':
        out += '\f';
        return p + 2;
      case 'v':
        out += '\v';
        return p + 2;
      case '\n':
        return p + 2;  // line continuation
      case 'x':
      case 'u':
      case 'U': {
        int count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        long v = hex(p + 2, count);
        if (v < 0) fail(p, std::string("truncated \\") + e + " escape in string literal");
        utf8_append(out, static_cast<char32_t>(v));
        return p + 2 + count;
      }
      default:
        if (e >= '0' && e <= '7') {
          size_t q = p + 1;
          int v = 0;
          for (int k = 0; k < 3 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++k, ++q)
            v = v * 8 + (src_[q] - '0');
          utf8_append(out, static_cast<char32_t>(v));
          return q;
        }
        out += '\\';  // unknown escapes stay as written
        return p + 1;
    }
  }

  void emit_text(std::string text, int line, int col) {
    if (!text.empty()) tokens_.push_back({TokenType::Text, std::move(text), line, col});
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

  static size_t leading_space_bytes(const std::string& s, size_t from) {
    size_t i = from;
    while (i < s.size()) {
      size_t len = utf8_char_len(s, i);
      char32_t c = utf8_decode(std::string_view(s).substr(i, len)).front();
      if (!is_python_space(c)) break;
      i += len;
    }
    return i - from;
  }

  static size_t trailing_space_start(const std::string& s) {
    std::string stripped = py_strip(s, std::nullopt, false, true);
    return stripped.size();
  }

  static bool only_inline_space(const std::string& s, size_t from) {
    for (char32_t c : utf8_decode(std::string_view(s).substr(from)))
      if (!is_python_space(c) || c == '\n') return false;
    return true;
  }

  static size_t utf8_char_len(const std::string& s, size_t i) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
    return i + len > s.size() ? 1 : len;
  }

  // Moves pos_ forward, keeping line_ and line_start_ current.
  void advance_to(size_t to) {
    for (; pos_ < to; ++pos_) {
      if (src_[pos_] == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
    }
  }

  int line_at(size_t at) const {
    if (at >= pos_) {
      int line = line_;
      for (size_t p = pos_; p < at && p < src_.size(); ++p) line += src_[p] == '\n';
      return line;
    }
    int line = 1;
    for (size_t p = 0; p < at; ++p) line += src_[p] == '\n';
    return line;
  }

  int column_at(size_t at) const {
    size_t nl = at == 0 ? std::string::npos : src_.rfind('\n', at - 1);
    return static_cast<int>(at - (nl == std::string::npos ? 0 : nl + 1)) + 1;
  }

  std::string src_;
  LexerOptions opt_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  std::vector<Token> tokens_;
};

std::string normalize_newlines(const std::string& source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::vector<Token> tokenize(const std::string& source, const LexerOptions& options) {
  return Lexer(normalize_newlines(source, options.keep_trailing_newline), options).run();
}

}  // namespace serval::jinja
