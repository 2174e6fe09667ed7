// The template interpreter: walks the syntax tree over jinja::Value with Jinja2's scoping rules
// (for-loop and macro scopes, namespace objects) and the sandbox's read-only containers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace serval::jinja {

// Renders tmpl with `globals` as the outermost scope. Throws RenderError (with the template line set).
std::string render_template(const Template& tmpl, const ValueDict& globals);

// Jinja2's getattr (obj.name) and getitem (obj[key]) under the immutable sandbox: missing members
// give undefined; members of undefined throw RenderError.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// Follows a dotted path such as "function.name" or "0.role" (filters' attribute= arguments).
Value get_path(const Value& obj, const std::string& path);
// Python iteration: list items, dict keys, string characters; undefined is empty. Throws for others.
ValueList iterate(const Value& v);

}  // namespace serval::jinja
