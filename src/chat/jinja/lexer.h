// Jinja2 lexer: splits template source into text and tag tokens, applying Jinja2's whitespace
// control ({%- -%}, trim_blocks, lstrip_blocks, newline normalisation, dropped trailing newline).
#pragma once

#include <string>
#include <vector>

namespace serval::jinja {

enum class TokenType {
  Text,        // literal template text (already whitespace-processed)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // value holds the unescaped string
  Int,
  Float,
  Op,  // operator or punctuation: == != <= >= // ** + - * / % ~ | . , : ( ) [ ] { } = < >
  End,
};

struct Token {
  TokenType type;
  std::string value;
  int line = 1;
  int column = 1;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Throws serval::Error("chat template line N: ...") on malformed tags.
std::vector<Token> tokenize(const std::string& source, const LexerOptions& options = {});

}  // namespace serval::jinja
