// jinja::Value: the dynamic value the template interpreter computes with, following Python/Jinja2
// semantics (undefined vs none, ordered dicts, Python str()/repr() and truthiness).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace serval::jinja {

// A template runtime failure. line == 0 until the interpreter attaches the line of the node being evaluated.
struct RenderError : std::runtime_error {
  explicit RenderError(const std::string& message, int line = 0) : std::runtime_error(message), line(line) {}
  int line;
};

class Value;

// The arguments of Python's json.dumps that tojson exposes.
struct JsonOptions {
  std::optional<std::string> indent;          // nullopt: one line; else the string repeated per level
  bool ensure_ascii = false;                  // transformers' tojson keeps non-ASCII characters
  std::optional<std::string> item_separator;  // default ", " (one line) or "," (indented)
  std::string key_separator = ": ";
  bool sort_keys = false;
};

using ValueList = std::vector<Value>;

// A Python dict with string keys, in insertion order (linear lookup: template dicts are small).
struct ValueDict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // The keyword argument `name`, else positional argument `index`, else nullptr.
  const Value* get(std::string_view name, size_t index) const;
};

struct Callable {
  std::string name;
  std::function<Value(const CallArgs&)> fn;
};

// The `loop` variable of a for loop; attributes are computed on access.
struct LoopState {
  std::shared_ptr<const ValueList> items;
  int64_t index0 = 0;
};

class Value {
 public:
  enum class Kind : uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Dict,
    Namespace,
    Callable,
    Loop
  };

  Value() = default;  // undefined
  static Value undefined(std::string hint = "");
  static Value none();
  Value(bool b) : kind_(Kind::Bool), data_(b) {}
  Value(int v) : kind_(Kind::Int), data_(int64_t{v}) {}
  Value(int64_t v) : kind_(Kind::Int), data_(v) {}
  Value(double v) : kind_(Kind::Float), data_(v) {}
  Value(std::string s) : kind_(Kind::String), data_(std::make_shared<const std::string>(std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(ValueList list) : kind_(Kind::List), data_(std::make_shared<ValueList>(std::move(list))) {}
  Value(ValueDict dict) : kind_(Kind::Dict), data_(std::make_shared<ValueDict>(std::move(dict))) {}
  static Value namespace_of(ValueDict dict);
  static Value callable(std::string name, std::function<Value(const CallArgs&)> fn);
  static Value loop(std::shared_ptr<LoopState> state);
  static Value from_json(const nlohmann::ordered_json& j);
  static Value from_json(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_callable() const { return kind_ == Kind::Callable; }
  bool is_loop() const { return kind_ == Kind::Loop; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;    // Int or Bool
  double as_double() const;  // Int, Float or Bool
  const std::string& as_string() const { return *std::get<std::shared_ptr<const std::string>>(data_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<ValueList>>(data_); }
  const ValueDict& as_dict() const {
    return *std::get<std::shared_ptr<ValueDict>>(data_);
  }  // Dict or Namespace
  ValueDict& mutable_dict() const { return *std::get<std::shared_ptr<ValueDict>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<Callable>>(data_); }
  const LoopState& as_loop() const { return *std::get<std::shared_ptr<LoopState>>(data_); }
  std::shared_ptr<const ValueList> list_ptr() const { return std::get<std::shared_ptr<ValueList>>(data_); }
  // For undefined values: the error message for using it ("'x' is undefined").
  std::string undefined_hint() const;

  bool truthy() const;
  // Python str(): what {{ value }} prints. Throws RenderError for values with no string form.
  std::string str() const;
  // Python repr(), used for str() of containers.
  std::string repr() const;
  // Python type name for messages: "str", "int", "dict", "NoneType", "undefined".
  std::string type_name() const;
  // Python json.dumps(value, ensure_ascii=..., indent=..., separators=..., sort_keys=...).
  std::string to_json(const JsonOptions& options) const;

 private:
  using Data = std::variant<std::monostate, bool, int64_t, double, std::shared_ptr<const std::string>,
                            std::shared_ptr<ValueList>, std::shared_ptr<ValueDict>, std::shared_ptr<Callable>,
                            std::shared_ptr<LoopState>>;
  Value(Kind kind, Data data) : kind_(kind), data_(std::move(data)) {}
  Kind kind_ = Kind::Undefined;
  Data data_;
};

// Python ==.
bool values_equal(const Value& a, const Value& b);
// Python <: negative, zero or positive. Throws RenderError for unorderable types.
int compare_values(const Value& a, const Value& b);
// Python float repr: 1.0, 0.1, 1e-05, 1e+16, inf, nan.
std::string format_python_float(double v);

}  // namespace serval::jinja
