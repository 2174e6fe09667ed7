// Jinja2 parser: tokens -> Template syntax tree, with Jinja2's operator precedence.
#pragma once

#include <memory>
#include <string>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace serval::jinja {

// Parses template source. Throws serval::Error("chat template line N: ...") on a syntax error.
std::unique_ptr<Template> parse_template(const std::string& source, const LexerOptions& options = {});

}  // namespace serval::jinja
