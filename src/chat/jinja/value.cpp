// jinja::Value: construction from JSON, Python str()/repr()/json.dumps(), equality and ordering.
#include "chat/jinja/value.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja/string_methods.h"

namespace serval::jinja {

namespace {

constexpr int kMaxJsonDepth = 256;  // deeper input would risk the stack in the recursive walks

template <typename Json>
Value value_from_json(const Json& j, int depth = 0) {
  if (depth > kMaxJsonDepth)
    throw RenderError("JSON input nests more than " + std::to_string(kMaxJsonDepth) + " levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return Value(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList list;
      list.reserve(j.size());
      for (const auto& item : j) list.push_back(value_from_json(item, depth + 1));
      return Value(std::move(list));
    }
    case nlohmann::json::value_t::object: {
      ValueDict dict;
      dict.items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        dict.items.emplace_back(it.key(), value_from_json(it.value(), depth + 1));
      return Value(std::move(dict));
    }
    default:
      throw RenderError("unsupported JSON value of type " + std::string(j.type_name()));
  }
}

bool is_printable(char32_t cp) {
  if (cp == ' ') return true;
  if (cp < 0x20 || cp == 0x7f) return false;
  if (cp < 0x7f) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string python_string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  char buf[16];
  for (char32_t cp : utf8_decode(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (is_printable(cp)) {
      utf8_append(out, cp);
    } else {
      if (cp < 0x100)
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp));
      else if (cp < 0x10000)
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
      else
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(cp));
      out += buf;
    }
  }
  out += quote;
  return out;
}

void json_escape_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  char buf[16];
  auto escape_unit = [&](unsigned unit) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
    out += buf;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
      escape_unit(c);
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
    } else {
      // One whole code point, as \uXXXX or a surrogate pair.
      size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      std::vector<char32_t> cps = utf8_decode(std::string_view(s).substr(i, len));
      i += len - 1;
      for (char32_t cp : cps) {
        if (cp >= 0x10000) {
          cp -= 0x10000;
          escape_unit(0xd800 + (cp >> 10));
          escape_unit(0xdc00 + (cp & 0x3ff));
        } else {
          escape_unit(cp);
        }
      }
    }
  }
  out += '"';
}

void dump_json(std::string& out, const Value& v, const JsonOptions& opt, const std::string& item_sep,
               int depth) {
  auto newline = [&](int level) {
    out += '\n';
    for (int k = 0; k < level; ++k) out += *opt.indent;
  };
  switch (v.kind()) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float: {
      double d = v.as_double();
      out += std::isnan(d)   ? "NaN"
             : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                             : format_python_float(d);
      return;
    }
    case Value::Kind::String:
      json_escape_string(out, v.as_string(), opt.ensure_ascii);
      return;
    case Value::Kind::List: {
      const ValueList& list = v.as_list();
      if (list.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += item_sep;
        if (opt.indent) newline(depth + 1);
        dump_json(out, list[i], opt, item_sep, depth + 1);
      }
      if (opt.indent) newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      const ValueDict& dict = v.as_dict();
      if (dict.items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& item : dict.items) items.push_back(&item);
      if (opt.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_sep;
        if (opt.indent) newline(depth + 1);
        json_escape_string(out, items[i]->first, opt.ensure_ascii);
        out += opt.key_separator;
        dump_json(out, items[i]->second, opt, item_sep, depth + 1);
      }
      if (opt.indent) newline(depth);
      out += '}';
      return;
    }
    default:
      throw RenderError("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

const Value* ValueDict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

Value* ValueDict::find(std::string_view key) {
  for (auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void ValueDict::set(const std::string& key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    items.emplace_back(key, std::move(value));
  }
}

const Value* CallArgs::get(std::string_view name, size_t index) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return index < positional.size() ? &positional[index] : nullptr;
}

Value Value::undefined(std::string hint) {
  if (hint.empty()) return Value();
  return Value(Kind::Undefined, std::make_shared<const std::string>(std::move(hint)));
}

Value Value::none() {
  return Value(Kind::None, std::monostate{});
}

Value Value::namespace_of(ValueDict dict) {
  return Value(Kind::Namespace, std::make_shared<ValueDict>(std::move(dict)));
}

Value Value::callable(std::string name, std::function<Value(const CallArgs&)> fn) {
  return Value(Kind::Callable, std::make_shared<Callable>(Callable{std::move(name), std::move(fn)}));
}

Value Value::loop(std::shared_ptr<LoopState> state) {
  return Value(Kind::Loop, std::move(state));
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  return value_from_json(j);
}
Value Value::from_json(const nlohmann::json& j) {
  return value_from_json(j);
}

int64_t Value::as_int() const {
  if (kind_ == Kind::Bool) return std::get<bool>(data_) ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (kind_ == Kind::Float) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

std::string Value::undefined_hint() const {
  if (auto* s = std::get_if<std::shared_ptr<const std::string>>(&data_)) return **s;
  return "a value is undefined";
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return as_bool();
    case Kind::Int:
      return as_int() != 0;
    case Kind::Float:
      return as_double() != 0.0;
    case Kind::String:
      return !as_string().empty();
    case Kind::List:
      return !as_list().empty();
    case Kind::Dict:
      return !as_dict().items.empty();
    default:
      return true;
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Callable:
      return "function";
    case Kind::Loop:
      return "LoopContext";
  }
  return "object";
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::Undefined:
      return "";
    case Kind::String:
      return as_string();
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return as_bool() ? "True" : "False";
    case Kind::Int:
      return std::to_string(as_int());
    case Kind::Float:
      return format_python_float(as_double());
    case Kind::String:
      return python_string_repr(as_string());
    case Kind::List: {
      std::string out = "[";
      const ValueList& list = as_list();
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += ", ";
        out += list[i].repr();
      }
      return out + "]";
    }
    case Kind::Dict:
    case Kind::Namespace: {
      std::string out = kind_ == Kind::Namespace ? "<Namespace {" : "{";
      const ValueDict& dict = as_dict();
      for (size_t i = 0; i < dict.items.size(); ++i) {
        if (i > 0) out += ", ";
        out += python_string_repr(dict.items[i].first) + ": " + dict.items[i].second.repr();
      }
      return out + (kind_ == Kind::Namespace ? "}>" : "}");
    }
    case Kind::Callable:
      return "<function " + as_callable().name + ">";
    case Kind::Loop:
      return "<LoopContext " + std::to_string(as_loop().index0 + 1) + "/" +
             std::to_string(as_loop().items->size()) + ">";
  }
  return "";
}

std::string Value::to_json(const JsonOptions& options) const {
  std::string out;
  std::string item_sep = options.item_separator ? *options.item_separator : options.indent ? "," : ", ";
  dump_json(out, *this, options, item_sep, 0);
  return out;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.as_string() == b.as_string();
    case Value::Kind::List: {
      const ValueList& x = a.as_list();
      const ValueList& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!values_equal(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const ValueDict& x = a.as_dict();
      const ValueDict& y = b.as_dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (other == nullptr || !values_equal(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Namespace:
      return &a.as_dict() == &b.as_dict();
    case Value::Kind::Callable:
      return &a.as_callable() == &b.as_callable();
    case Value::Kind::Loop:
      return &a.as_loop() == &b.as_loop();
    default:
      return false;
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const ValueList& x = a.as_list();
    const ValueList& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (values_equal(x[i], y[i])) continue;
      return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.is_undefined() || b.is_undefined()) throw RenderError((a.is_undefined() ? a : b).undefined_hint());
  throw RenderError("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() +
                    "'");
}

std::string format_python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's repr layout (fixed for 1e-4 <= |v| < 1e16).
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent) + 1) + "." +
             digits.substr(static_cast<size_t>(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

}  // namespace serval::jinja
