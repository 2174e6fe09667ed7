// Jinja2's built-in filters and tests, plus Python arithmetic (see filters.h).
#include "chat/jinja/filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/string_methods.h"

namespace serval::jinja {

namespace {

[[noreturn]] void fail_undefined(const Value& v) {
  throw RenderError(v.undefined_hint());
}

const Value* arg(const CallArgs& args, std::string_view name, size_t index) {
  return args.get(name, index);
}

bool bool_arg(const CallArgs& args, std::string_view name, size_t index, bool fallback) {
  const Value* v = arg(args, name, index);
  return v ? v->truthy() : fallback;
}

int64_t int_arg(const CallArgs& args, std::string_view name, size_t index, int64_t fallback) {
  const Value* v = arg(args, name, index);
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool())
    throw RenderError("argument '" + std::string(name) + "' must be an integer");
  return v->as_int();
}

std::string str_arg(const CallArgs& args, std::string_view name, size_t index, const std::string& fallback) {
  const Value* v = arg(args, name, index);
  return v ? v->str() : fallback;
}

// Jinja2's soft_str: the string form of a value (undefined -> "").
std::string soft_str(const Value& v) {
  return v.str();
}

Value length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String:
      return Value(utf8_length(v.as_string()));
    case Value::Kind::List:
      return Value(static_cast<int64_t>(v.as_list().size()));
    case Value::Kind::Dict:
      return Value(static_cast<int64_t>(v.as_dict().items.size()));
    case Value::Kind::Undefined:
      return Value(int64_t{0});
    default:
      throw RenderError("object of type '" + v.type_name() + "' has no len()");
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Jinja2's title filter: capitalises after runs of whitespace and -([{<.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  std::vector<char32_t> cps = utf8_decode(s);
  std::string word;
  for (char32_t cp : cps) {
    bool sep = is_python_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    std::string ch;
    utf8_append(ch, cp);
    if (sep) {
      out += ch;
      word_start = true;
    } else {
      out += word_start ? py_upper(ch) : py_lower(ch);
      word_start = false;
    }
  }
  return out;
}

Value to_list(const Value& v) {
  if (v.is_list()) return v;
  return Value(iterate(v));
}

// Python's sort key comparison, with Jinja2's case-insensitive option for strings.
int compare_sort(const Value& a, const Value& b, bool case_sensitive) {
  if (!case_sensitive && a.is_string() && b.is_string())
    return compare_values(Value(py_lower(a.as_string())), Value(py_lower(b.as_string())));
  return compare_values(a, b);
}

Value sort_items(ValueList items, bool reverse, bool case_sensitive, const std::string& attribute) {
  auto key = [&](const Value& v) { return attribute.empty() ? v : get_path(v, attribute); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    int c = compare_sort(key(a), key(b), case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return Value(std::move(items));
}

// Python printf-style formatting ("%s - %d" % args) for the format filter.
std::string printf_format(const std::string& fmt, const ValueList& values) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw RenderError("incomplete format");
    char spec = fmt[i];
    if (spec == '%') {
      out += '%';
      continue;
    }
    if (next >= values.size()) throw RenderError("not enough arguments for format string");
    const Value& v = values[next++];
    switch (spec) {
      case 's':
        out += v.str();
        break;
      case 'r':
        out += v.repr();
        break;
      case 'd':
      case 'i':
        if (!v.is_number()) throw RenderError("%d format: a number is required, not " + v.type_name());
        out += std::to_string(v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int());
        break;
      case 'f': {
        if (!v.is_number()) throw RenderError("%f format: a number is required, not " + v.type_name());
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%f", v.as_double());
        out += buf;
        break;
      }
      default:
        throw RenderError(std::string("unsupported format character '") + spec + "'");
    }
  }
  if (next < values.size()) throw RenderError("not all arguments converted during string formatting");
  return out;
}

Value filter_tojson(const Value& v, const CallArgs& args) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  JsonOptions opt;
  opt.ensure_ascii = bool_arg(args, "ensure_ascii", 0, false);
  if (const Value* indent = arg(args, "indent", 1); indent && !indent->is_none()) {
    if (indent->is_string())
      opt.indent = indent->as_string();
    else if (indent->is_int())
      opt.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent->as_int())), ' ');
    else
      throw RenderError("tojson: indent must be an integer or a string");
  }
  if (const Value* seps = arg(args, "separators", 2); seps && !seps->is_none()) {
    if (!seps->is_list() || seps->as_list().size() != 2 || !seps->as_list()[0].is_string() ||
        !seps->as_list()[1].is_string())
      throw RenderError("tojson: separators must be a pair of strings");
    opt.item_separator = seps->as_list()[0].as_string();
    opt.key_separator = seps->as_list()[1].as_string();
  }
  opt.sort_keys = bool_arg(args, "sort_keys", 3, false);
  return Value(v.to_json(opt));
}

// select/reject/selectattr/rejectattr: the test name and its arguments start at args[first].
Value filter_select(const Value& seq, const CallArgs& args, bool by_attr, bool keep_matching) {
  std::string attribute;
  size_t first = 0;
  if (by_attr) {
    if (args.positional.empty()) throw RenderError("selectattr/rejectattr need an attribute name");
    attribute = args.positional[0].str();
    first = 1;
  }
  std::string test;
  CallArgs test_args;
  if (args.positional.size() > first) {
    test = args.positional[first].str();
    test_args.positional.assign(args.positional.begin() + static_cast<long>(first) + 1,
                                args.positional.end());
  }
  ValueList out;
  for (const Value& item : iterate(seq)) {
    Value subject = by_attr ? get_path(item, attribute) : item;
    bool match = test.empty() ? subject.truthy() : apply_test(test, subject, test_args);
    if (match == keep_matching) out.push_back(item);
  }
  return Value(std::move(out));
}

Value filter_map(const Value& seq, const CallArgs& args) {
  ValueList out;
  const Value* attribute = nullptr;
  for (const auto& [k, v] : args.keyword)
    if (k == "attribute") attribute = &v;
  if (attribute != nullptr) {
    const Value* fallback = nullptr;
    for (const auto& [k, v] : args.keyword)
      if (k == "default") fallback = &v;
    for (const Value& item : iterate(seq)) {
      Value v = get_path(item, attribute->str());
      out.push_back(v.is_undefined() && fallback ? *fallback : v);
    }
    return Value(std::move(out));
  }
  if (args.positional.empty()) throw RenderError("map: expected a filter name or attribute=");
  std::string filter = args.positional[0].str();
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : iterate(seq)) out.push_back(apply_filter(filter, item, rest));
  return Value(std::move(out));
}

Value filter_unique(const Value& seq, const CallArgs& args) {
  bool case_sensitive = bool_arg(args, "case_sensitive", 0, false);
  std::string attribute = str_arg(args, "attribute", 1, "");
  ValueList out, seen;
  for (const Value& item : iterate(seq)) {
    Value key = attribute.empty() ? item : get_path(item, attribute);
    if (!case_sensitive && key.is_string()) key = Value(py_lower(key.as_string()));
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); })) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value(std::move(out));
}

Value filter_indent(const Value& v, const CallArgs& args) {
  std::string pad;
  if (const Value* w = arg(args, "width", 0); w && w->is_string())
    pad = w->as_string();
  else
    pad = std::string(static_cast<size_t>(int_arg(args, "width", 0, 4)), ' ');
  bool first = bool_arg(args, "first", 1, false);
  bool blank = bool_arg(args, "blank", 2, false);
  std::vector<std::string> lines = py_split(soft_str(v), std::string("\n"), -1);
  std::string out = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    out += '\n';
    if (blank || !lines[i].empty()) out += pad;
    out += lines[i];
  }
  if (first) out = pad + out;
  return Value(std::move(out));
}

}  // namespace

Value arithmetic(char op, bool floor_div, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    bool use_float = a.is_float() || b.is_float();
    switch (op) {
      case '+':
        return use_float ? Value(a.as_double() + b.as_double()) : Value(a.as_int() + b.as_int());
      case '-':
        return use_float ? Value(a.as_double() - b.as_double()) : Value(a.as_int() - b.as_int());
      case '*':
        return use_float ? Value(a.as_double() * b.as_double()) : Value(a.as_int() * b.as_int());
      case '/':
        if (b.as_double() == 0.0)
          throw RenderError(floor_div ? "integer division or modulo by zero" : "division by zero");
        if (!floor_div) return Value(a.as_double() / b.as_double());
        if (use_float) return Value(std::floor(a.as_double() / b.as_double()));
        {
          int64_t x = a.as_int(), y = b.as_int();
          int64_t q = x / y;
          if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
          return Value(q);
        }
      case '%':
        if (b.as_double() == 0.0) throw RenderError("integer division or modulo by zero");
        if (use_float) {
          double x = a.as_double(), y = b.as_double();
          double m = std::fmod(x, y);
          if (m != 0.0 && ((m < 0) != (y < 0))) m += y;
          return Value(m);
        } else {
          int64_t x = a.as_int(), y = b.as_int();
          int64_t m = x % y;
          if (m != 0 && ((m < 0) != (y < 0))) m += y;
          return Value(m);
        }
      case '^':
        if (!use_float && b.as_int() >= 0) {
          int64_t result = 1, base = a.as_int();
          for (int64_t e = b.as_int(); e > 0; --e) result *= base;
          return Value(result);
        }
        return Value(std::pow(a.as_double(), b.as_double()));
      default:
        break;
    }
  }
  if (op == '+' && a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
  if (op == '+' && a.is_list() && b.is_list()) {
    ValueList out = a.as_list();
    out.insert(out.end(), b.as_list().begin(), b.as_list().end());
    return Value(std::move(out));
  }
  if (op == '*' && (a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) {
    int64_t n = b.as_int();
    if (n * static_cast<int64_t>(a.is_string() ? a.as_string().size() : a.as_list().size()) > 10'000'000)
      throw RenderError("sequence repetition is too large");
    if (a.is_string()) {
      std::string out;
      for (int64_t i = 0; i < n; ++i) out += a.as_string();
      return Value(std::move(out));
    }
    ValueList out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), a.as_list().begin(), a.as_list().end());
    return Value(std::move(out));
  }
  if (op == '*' && (b.is_string() || b.is_list()) && (a.is_int() || a.is_bool()))
    return arithmetic(op, false, b, a);
  if (op == '%' && a.is_string())
    return Value(printf_format(a.as_string(), b.is_list() ? b.as_list() : ValueList{b}));
  std::string sym = op == '^' ? "**" : op == '/' && floor_div ? "//" : std::string(1, op);
  if (op == '+' && a.is_string())
    throw RenderError("can only concatenate str (not \"" + b.type_name() + "\") to str");
  throw RenderError("unsupported operand type(s) for " + sym + ": '" + a.type_name() + "' and '" +
                    b.type_name() + "'");
}

Value apply_filter(const std::string& name, const Value& v, const CallArgs& args) {
  if (name == "tojson") return filter_tojson(v, args);
  if (name == "trim") {
    const Value* chars = arg(args, "chars", 0);
    return Value(py_strip(
        soft_str(v), chars && !chars->is_none() ? std::optional<std::string>(chars->str()) : std::nullopt,
        true, true));
  }
  if (name == "length" || name == "count") return length_of(v);
  if (name == "upper") return Value(py_upper(soft_str(v)));
  if (name == "lower") return Value(py_lower(soft_str(v)));
  if (name == "title") return Value(jinja_title(soft_str(v)));
  if (name == "capitalize") return Value(py_capitalize(soft_str(v)));
  if (name == "string") return Value(soft_str(v));
  if (name == "safe") return v;
  if (name == "e" || name == "escape" || name == "forceescape") return Value(html_escape(soft_str(v)));
  if (name == "default" || name == "d") {
    Value fallback = arg(args, "default_value", 0) ? *arg(args, "default_value", 0) : Value(std::string());
    bool boolean = bool_arg(args, "boolean", 1, false);
    return (v.is_undefined() || (boolean && !v.truthy())) ? fallback : v;
  }
  if (name == "first" || name == "last") {
    if (v.is_undefined()) return Value::undefined("No first item, sequence was empty.");
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    std::string sep = str_arg(args, "d", 0, "");
    std::string attribute = str_arg(args, "attribute", 1, "");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += sep;
      out += soft_str(attribute.empty() ? item : get_path(item, attribute));
      first = false;
    }
    return Value(std::move(out));
  }
  if (name == "list") return to_list(v);
  if (name == "items") {
    if (v.is_undefined()) return Value(ValueList{});
    if (!v.is_dict()) throw RenderError("can only get item pairs from a mapping, not " + v.type_name());
    ValueList out;
    for (const auto& [k, val] : v.as_dict().items) out.emplace_back(ValueList{Value(k), val});
    return Value(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) throw RenderError("dictsort: expected a mapping, got " + v.type_name());
    bool case_sensitive = bool_arg(args, "case_sensitive", 0, false);
    std::string by = str_arg(args, "by", 1, "key");
    bool reverse = bool_arg(args, "reverse", 2, false);
    ValueList pairs;
    for (const auto& [k, val] : v.as_dict().items) pairs.emplace_back(ValueList{Value(k), val});
    return sort_items(std::move(pairs), reverse, case_sensitive, by == "value" ? "1" : "0");
  }
  if (name == "replace") {
    int64_t count = int_arg(args, "count", 2, -1);
    return Value(py_replace(soft_str(v), str_arg(args, "old", 0, ""), str_arg(args, "new", 1, ""), count));
  }
  if (name == "int") {
    int64_t fallback = int_arg(args, "default", 0, 0);
    if (v.is_int() || v.is_bool()) return Value(v.as_int());
    if (v.is_float()) return Value(static_cast<int64_t>(v.as_double()));
    if (v.is_string()) {
      std::string s = py_strip(v.as_string(), std::nullopt, true, true);
      try {
        size_t used = 0;
        long long i = std::stoll(s, &used, static_cast<int>(int_arg(args, "base", 1, 10)));
        if (used == s.size()) return Value(static_cast<int64_t>(i));
      } catch (const std::exception&) {
      }
      try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size() && std::isfinite(d)) return Value(static_cast<int64_t>(d));
      } catch (const std::exception&) {
      }
    }
    return Value(fallback);
  }
  if (name == "float") {
    const Value* fallback = arg(args, "default", 0);
    if (v.is_number()) return Value(v.as_double());
    if (v.is_string()) {
      std::string s = py_strip(v.as_string(), std::nullopt, true, true);
      try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size()) return Value(d);
      } catch (const std::exception&) {
      }
    }
    return fallback ? *fallback : Value(0.0);
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.is_int() || v.is_bool()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    throw RenderError("bad operand type for abs(): '" + v.type_name() + "'");
  }
  if (name == "round") {
    if (!v.is_number()) throw RenderError("round: expected a number, got " + v.type_name());
    int64_t precision = int_arg(args, "precision", 0, 0);
    std::string method = str_arg(args, "method", 1, "common");
    double scale = std::pow(10.0, static_cast<double>(precision));
    double x = v.as_double() * scale;
    double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
    return Value(r / scale);
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<char32_t> cps = utf8_decode(v.as_string());
      std::reverse(cps.begin(), cps.end());
      return Value(utf8_encode(cps));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "sort") {
    return sort_items(iterate(v), bool_arg(args, "reverse", 0, false),
                      bool_arg(args, "case_sensitive", 1, false), str_arg(args, "attribute", 2, ""));
  }
  if (name == "unique") return filter_unique(v, args);
  if (name == "min" || name == "max") {
    bool case_sensitive = bool_arg(args, "case_sensitive", 0, false);
    std::string attribute = str_arg(args, "attribute", 1, "");
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    const Value* best = &items[0];
    for (const Value& item : items) {
      Value a = attribute.empty() ? item : get_path(item, attribute);
      Value b = attribute.empty() ? *best : get_path(*best, attribute);
      int c = compare_sort(a, b, case_sensitive);
      if (name == "min" ? c < 0 : c > 0) best = &item;
    }
    return *best;
  }
  if (name == "sum") {
    std::string attribute = str_arg(args, "attribute", 0, "");
    Value total = arg(args, "start", 1) ? *arg(args, "start", 1) : Value(int64_t{0});
    for (const Value& item : iterate(v))
      total = arithmetic('+', false, total, attribute.empty() ? item : get_path(item, attribute));
    return total;
  }
  if (name == "select" || name == "reject") return filter_select(v, args, false, name == "select");
  if (name == "selectattr" || name == "rejectattr") return filter_select(v, args, true, name == "selectattr");
  if (name == "map") return filter_map(v, args);
  if (name == "attr") return get_attribute(v, str_arg(args, "name", 0, ""));
  if (name == "indent") return filter_indent(v, args);
  if (name == "format") return Value(printf_format(soft_str(v), args.positional));
  if (name == "wordcount") return Value(static_cast<int64_t>(py_split(soft_str(v), std::nullopt, -1).size()));
  if (name == "batch" || name == "slice") {
    int64_t n = int_arg(args, name == "batch" ? "linecount" : "slices", 0, 1);
    if (n <= 0) throw RenderError(name + ": size must be positive");
    ValueList items = iterate(v), out;
    if (name == "batch") {
      for (size_t i = 0; i < items.size(); i += static_cast<size_t>(n))
        out.emplace_back(
            ValueList(items.begin() + static_cast<long>(i),
                      items.begin() + static_cast<long>(std::min(items.size(), i + static_cast<size_t>(n)))));
      return Value(std::move(out));
    }
    throw RenderError("the slice filter is not supported");
  }
  throw RenderError("no filter named '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
  auto other = [&]() -> const Value& {
    if (args.positional.empty()) throw RenderError("test '" + name + "' needs an argument");
    return args.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower") return v.is_string() && v.as_string() == py_lower(v.as_string());
  if (name == "upper") return v.is_string() && v.as_string() == py_upper(v.as_string());
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int() && !v.is_bool())
      throw RenderError("test '" + name + "' needs an integer, got " + v.type_name());
    if (name == "divisibleby") {
      const Value& d = other();
      if (!d.is_int() || d.as_int() == 0) throw RenderError("divisibleby needs a non-zero integer");
      return v.as_int() % d.as_int() == 0;
    }
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "sameas") {
    const Value& o = other();
    if (v.kind() != o.kind()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.is_bool()) return v.as_bool() == o.as_bool();
    if (v.is_int())
      return v.as_int() == o.as_int();  // CPython caches small ints; equal ints compare same here
    return values_equal(v, o);
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, other());
  if (name == "ne" || name == "!=") return !values_equal(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return compare_values(v, other()) < 0;
  if (name == "le" || name == "<=") return compare_values(v, other()) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare_values(v, other()) > 0;
  if (name == "ge" || name == ">=") return compare_values(v, other()) >= 0;
  if (name == "in") {
    const Value& seq = other();
    if (seq.is_string()) return v.is_string() && seq.as_string().find(v.as_string()) != std::string::npos;
    if (seq.is_dict()) return v.is_string() && seq.as_dict().find(v.as_string()) != nullptr;
    for (const Value& item : iterate(seq))
      if (values_equal(item, v)) return true;
    return false;
  }
  throw RenderError("no test named '" + name + "'");
}

}  // namespace serval::jinja
