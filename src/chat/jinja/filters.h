// Jinja2's built-in filters ({{ x | trim }}) and tests ({% if x is defined %}), with transformers'
// tojson override (ensure_ascii=False, indent/separators/sort_keys passed to json.dumps).
#pragma once

#include <string>

#include "chat/jinja/value.h"

namespace serval::jinja {

// Throws RenderError naming the filter when it is unknown or its arguments are wrong.
Value apply_filter(const std::string& name, const Value& operand, const CallArgs& args);
bool apply_test(const std::string& name, const Value& operand, const CallArgs& args);

// Python arithmetic on values, shared by the interpreter and filters: op is one of + - * / // % **.
Value arithmetic(char op, bool floor_div, const Value& a, const Value& b);

}  // namespace serval::jinja
