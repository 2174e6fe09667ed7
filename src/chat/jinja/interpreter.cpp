// The template interpreter (see interpreter.h).
#include "chat/jinja/interpreter.h"

#include <algorithm>

#include "chat/jinja/filters.h"
#include "chat/jinja/string_methods.h"

namespace serval::jinja {

namespace {

bool is_dict_method(std::string_view name) {
  return name == "get" || name == "items" || name == "keys" || name == "values";
}

// Methods that mutate containers: the immutable sandbox refuses to call them.
bool is_unsafe_method(std::string_view name) {
  static const char* const kNames[] = {"append",  "extend", "insert",  "pop",    "remove",
                                       "clear",   "sort",   "reverse", "update", "setdefault",
                                       "popitem", "add",    "discard"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; });
}

Value undefined_attr(const Value& obj, const std::string& name) {
  return Value::undefined("'" + (obj.is_dict() ? std::string("dict") : obj.type_name()) +
                          " object' has no attribute '" + name + "'");
}

[[noreturn]] void fail_undefined(const Value& v) {
  throw RenderError(v.undefined_hint());
}

Value call_dict_method(const Value& obj, std::string_view name, const CallArgs& args) {
  const ValueDict& dict = obj.as_dict();
  if (name == "get") {
    const Value* key = args.get("key", 0);
    if (key == nullptr) throw RenderError("dict.get() takes at least 1 argument");
    const Value* fallback = args.get("default", 1);
    if (key->is_string())
      if (const Value* v = dict.find(key->as_string())) return *v;
    return fallback ? *fallback : Value::none();
  }
  ValueList out;
  out.reserve(dict.items.size());
  for (const auto& [k, v] : dict.items) {
    if (name == "keys")
      out.emplace_back(k);
    else if (name == "values")
      out.push_back(v);
    else
      out.emplace_back(ValueList{Value(k), v});
  }
  return Value(std::move(out));
}

Value call_list_method(const Value& obj, std::string_view name, const CallArgs& args) {
  const ValueList& list = obj.as_list();
  const Value* x = args.get("value", 0);
  if (x == nullptr) throw RenderError("list." + std::string(name) + "() takes exactly one argument");
  int64_t count = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!values_equal(list[i], *x)) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") throw RenderError(x->repr() + " is not in list");
  return Value(count);
}

// obj.name(args) for the built-in types' methods; nullopt when obj has no such method.
std::optional<Value> call_method(const Value& obj, const std::string& name, const CallArgs& args) {
  if (obj.is_string()) return call_string_method(obj.as_string(), name, args);
  if (obj.is_dict() && is_dict_method(name)) return call_dict_method(obj, name, args);
  if (obj.is_list() && (name == "index" || name == "count")) return call_list_method(obj, name, args);
  if ((obj.is_dict() || obj.is_list()) && is_unsafe_method(name))
    throw RenderError("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe");
  return std::nullopt;
}

Value bound_method(const Value& obj, const std::string& name) {
  return Value::callable(obj.type_name() + "." + name, [obj, name](const CallArgs& args) {
    auto result = call_method(obj, name, args);
    return result ? *result : Value::none();
  });
}

Value loop_attribute(const Value& loop, const std::string& name) {
  const LoopState& s = loop.as_loop();
  auto length = static_cast<int64_t>(s.items->size());
  if (name == "index") return Value(s.index0 + 1);
  if (name == "index0") return Value(s.index0);
  if (name == "first") return Value(s.index0 == 0);
  if (name == "last") return Value(s.index0 == length - 1);
  if (name == "length") return Value(length);
  if (name == "revindex") return Value(length - s.index0);
  if (name == "revindex0") return Value(length - s.index0 - 1);
  if (name == "depth") return Value(int64_t{1});
  if (name == "depth0") return Value(int64_t{0});
  if (name == "previtem")
    return s.index0 > 0 ? (*s.items)[s.index0 - 1] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return s.index0 + 1 < length ? (*s.items)[s.index0 + 1] : Value::undefined("there is no next item");
  if (name == "cycle") {
    int64_t index0 = s.index0;
    return Value::callable("loop.cycle", [index0](const CallArgs& args) {
      if (args.positional.empty()) throw RenderError("no items for cycling given");
      return args.positional[static_cast<size_t>(index0) % args.positional.size()];
    });
  }
  return undefined_attr(loop, name);
}

// Python slice index normalisation for a sequence of length n.
void slice_bounds(int64_t n, const Value& start_v, const Value& stop_v, int64_t step, int64_t& start,
                  int64_t& stop) {
  auto clamp = [&](const Value& v, int64_t fallback, bool is_start) -> int64_t {
    if (v.is_none() || v.is_undefined()) return fallback;
    if (!v.is_int() && !v.is_bool()) throw RenderError("slice indices must be integers or None");
    int64_t i = v.as_int();
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    (void)is_start;
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  start = clamp(start_v, step > 0 ? 0 : n - 1, true);
  stop = clamp(stop_v, step > 0 ? n : -1, false);
}

template <typename T>
std::vector<T> slice_vector(const std::vector<T>& items, const Value& start_v, const Value& stop_v,
                            int64_t step) {
  int64_t start, stop;
  slice_bounds(static_cast<int64_t>(items.size()), start_v, stop_v, step, start, stop);
  std::vector<T> out;
  if (step > 0)
    for (int64_t i = start; i < stop; i += step) out.push_back(items[static_cast<size_t>(i)]);
  else
    for (int64_t i = start; i > stop; i += step) out.push_back(items[static_cast<size_t>(i)]);
  return out;
}

enum class Flow { Normal, Break, Continue };

class Interpreter {
 public:
  explicit Interpreter(const ValueDict& globals) : globals_(globals) {
    scopes_.push_back(std::make_shared<ValueDict>());
  }

  std::string render(const Template& tmpl) {
    std::string out;
    out.reserve(4096);
    out_ = &out;
    exec_body(tmpl.body);
    return out;
  }

 private:
  // --- variables ---

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (const Value* v = (*it)->find(name)) return *v;
    if (const Value* v = globals_.find(name)) return *v;
    return Value::undefined("'" + name + "' is undefined");
  }

  void assign(const std::string& name, Value value) { scopes_.back()->set(name, std::move(value)); }

  // --- statements ---

  Flow exec_body(const Body& body) {
    for (const StmtPtr& stmt : body) {
      Flow flow = exec(*stmt);
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

  Flow exec(const Stmt& stmt) {
    try {
      switch (stmt.kind) {
        case StmtKind::Text:
          *out_ += static_cast<const TextStmt&>(stmt).text;
          return Flow::Normal;
        case StmtKind::Output: {
          Value v = eval(*static_cast<const OutputStmt&>(stmt).expr);
          if (v.is_string())
            *out_ += v.as_string();
          else
            *out_ += v.str();
          return Flow::Normal;
        }
        case StmtKind::If: {
          const auto& s = static_cast<const IfStmt&>(stmt);
          for (const auto& [cond, body] : s.branches)
            if (eval(*cond).truthy()) return exec_body(body);
          return exec_body(s.otherwise);
        }
        case StmtKind::For:
          return exec_for(static_cast<const ForStmt&>(stmt));
        case StmtKind::Set:
          exec_set(static_cast<const SetStmt&>(stmt));
          return Flow::Normal;
        case StmtKind::Macro: {
          const auto& s = static_cast<const MacroStmt&>(stmt);
          assign(s.name, make_macro(s.name, s.params, s.body));
          return Flow::Normal;
        }
        case StmtKind::CallBlock:
          exec_call_block(static_cast<const CallBlockStmt&>(stmt));
          return Flow::Normal;
        case StmtKind::FilterBlock: {
          const auto& s = static_cast<const FilterBlockStmt&>(stmt);
          Value v(capture(s.body));
          for (const auto& f : s.filters) v = apply_filter_expr(*f, v);
          *out_ += v.str();
          return Flow::Normal;
        }
        case StmtKind::Break:
          return Flow::Break;
        case StmtKind::Continue:
          return Flow::Continue;
        case StmtKind::Scope:
          return exec_body(static_cast<const ScopeStmt&>(stmt).body);
      }
    } catch (RenderError& e) {
      if (e.line == 0) e.line = stmt.line;
      throw;
    }
    return Flow::Normal;
  }

  std::string capture(const Body& body) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    try {
      exec_body(body);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buffer;
  }

  void bind_targets(const std::vector<std::string>& targets, const Value& item) {
    if (targets.size() == 1) {
      assign(targets[0], item);
      return;
    }
    ValueList parts = iterate(item);
    if (parts.size() != targets.size())
      throw RenderError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                        std::to_string(targets.size()) + " loop variables");
    for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], parts[i]);
  }

  Flow exec_for(const ForStmt& s) {
    ValueList all = iterate(eval(*s.iterable));
    auto items = std::make_shared<ValueList>();
    if (s.filter) {
      for (Value& item : all) {
        scopes_.push_back(std::make_shared<ValueDict>());
        bind_targets(s.targets, item);
        bool keep = eval(*s.filter).truthy();
        scopes_.pop_back();
        if (keep) items->push_back(std::move(item));
      }
    } else {
      *items = std::move(all);
    }
    if (items->empty()) return exec_body(s.otherwise);
    auto state = std::make_shared<LoopState>();
    state->items = items;
    Value loop = Value::loop(state);
    for (size_t i = 0; i < items->size(); ++i) {
      state->index0 = static_cast<int64_t>(i);
      scopes_.push_back(std::make_shared<ValueDict>());
      Flow flow;
      try {
        bind_targets(s.targets, (*items)[i]);
        assign("loop", loop);
        flow = exec_body(s.body);
      } catch (...) {
        scopes_.pop_back();
        throw;
      }
      scopes_.pop_back();
      if (flow == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void exec_set(const SetStmt& s) {
    Value value;
    if (s.value) {
      value = eval(*s.value);
    } else {
      value = Value(capture(s.body));
      for (const auto& f : s.filters) value = apply_filter_expr(*f, value);
    }
    if (!s.attr.empty()) {
      Value target = lookup(s.targets[0]);
      if (!target.is_namespace())
        throw RenderError("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
      target.mutable_dict().set(s.attr, std::move(value));
      return;
    }
    bind_targets(s.targets, value);
  }

  Value make_macro(const std::string& name, const std::vector<MacroParam>& params, const Body& body) {
    auto closure = scopes_;
    return Value::callable(name, [this, name, &params, &body, closure](const CallArgs& args) {
      auto local = std::make_shared<ValueDict>();
      for (size_t i = 0; i < args.positional.size(); ++i) {
        if (i >= params.size())
          throw RenderError("macro '" + name + "' takes not more than " + std::to_string(params.size()) +
                            " argument(s)");
        local->set(params[i].name, args.positional[i]);
      }
      for (const auto& [key, v] : args.keyword) {
        bool known = key == "caller" ||
                     std::any_of(params.begin(), params.end(), [&](auto& p) { return p.name == key; });
        if (!known) throw RenderError("macro '" + name + "' takes no keyword argument '" + key + "'");
        local->set(key, v);
      }
      if (macro_depth_ >= kMaxMacroDepth)
        throw RenderError("maximum recursion depth exceeded in macro '" + name + "'");
      ++macro_depth_;
      auto saved = std::move(scopes_);
      scopes_ = closure;
      scopes_.push_back(local);
      try {
        for (const MacroParam& p : params)
          if (local->find(p.name) == nullptr)
            local->set(p.name, p.default_value
                                   ? eval(*p.default_value)
                                   : Value::undefined("parameter '" + p.name + "' was not provided"));
        std::string text = capture(body);
        scopes_ = std::move(saved);
        --macro_depth_;
        return Value(std::move(text));
      } catch (...) {
        scopes_ = std::move(saved);
        --macro_depth_;
        throw;
      }
    });
  }

  void exec_call_block(const CallBlockStmt& s) {
    Value callee = eval(*s.call->callee);
    if (!callee.is_callable()) throw RenderError("'" + callee.type_name() + "' object is not callable");
    CallArgs args = eval_args(s.call->args);
    args.keyword.emplace_back("caller", make_macro("caller", s.params, s.body));
    Value result = callee.as_callable().fn(args);
    *out_ += result.str();
  }

  // --- expressions ---

  CallArgs eval_args(const Args& args) {
    CallArgs out;
    out.positional.reserve(args.positional.size());
    for (const ExprPtr& e : args.positional) out.positional.push_back(eval(*e));
    for (const auto& [name, e] : args.keyword) out.keyword.emplace_back(name, eval(*e));
    return out;
  }

  Value apply_filter_expr(const FilterExpr& f, const Value& operand) {
    return apply_filter(f.name, operand, eval_args(f.args));
  }

  Value eval(const Expr& e) {
    try {
      return eval_inner(e);
    } catch (RenderError& err) {
      if (err.line == 0) err.line = e.line;
      throw;
    }
  }

  Value eval_inner(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Literal:
        return static_cast<const LiteralExpr&>(e).value;
      case ExprKind::Name:
        return lookup(static_cast<const NameExpr&>(e).name);
      case ExprKind::List: {
        ValueList items;
        for (const ExprPtr& item : static_cast<const ListExpr&>(e).items) items.push_back(eval(*item));
        return Value(std::move(items));
      }
      case ExprKind::Dict: {
        ValueDict dict;
        for (const auto& [k, v] : static_cast<const DictExpr&>(e).items) {
          Value key = eval(*k);
          if (!key.is_string())
            throw RenderError("dict literal keys must be strings, got " + key.type_name());
          dict.set(key.as_string(), eval(*v));
        }
        return Value(std::move(dict));
      }
      case ExprKind::Attr: {
        const auto& a = static_cast<const AttrExpr&>(e);
        return get_attribute(eval(*a.object), a.name);
      }
      case ExprKind::Item: {
        const auto& i = static_cast<const ItemExpr&>(e);
        Value obj = eval(*i.object);
        return get_item(obj, eval(*i.index));
      }
      case ExprKind::Slice:
        return eval_slice(static_cast<const SliceExpr&>(e));
      case ExprKind::Call:
        return eval_call(static_cast<const CallExpr&>(e));
      case ExprKind::Filter: {
        const auto& f = static_cast<const FilterExpr&>(e);
        return apply_filter_expr(f, eval(*f.operand));
      }
      case ExprKind::Test: {
        const auto& t = static_cast<const TestExpr&>(e);
        Value operand = eval(*t.operand);
        bool result = apply_test(t.name, operand, eval_args(t.args));
        return Value(result != t.negated);
      }
      case ExprKind::Unary: {
        const auto& u = static_cast<const UnaryExpr&>(e);
        Value v = eval(*u.operand);
        if (u.op == UnaryOp::Not) return Value(!v.truthy());
        if (v.is_undefined()) fail_undefined(v);
        if (!v.is_number())
          throw RenderError("bad operand type for unary " + std::string(u.op == UnaryOp::Neg ? "-" : "+") +
                            ": '" + v.type_name() + "'");
        if (u.op == UnaryOp::Pos) return v.is_bool() ? Value(v.as_int()) : v;
        return v.is_float() ? Value(-v.as_double()) : Value(-v.as_int());
      }
      case ExprKind::Binary:
        return eval_binary(static_cast<const BinaryExpr&>(e));
      case ExprKind::Compare:
        return eval_compare(static_cast<const CompareExpr&>(e));
      case ExprKind::Cond: {
        const auto& c = static_cast<const CondExpr&>(e);
        if (eval(*c.cond).truthy()) return eval(*c.then);
        return c.otherwise
                   ? eval(*c.otherwise)
                   : Value::undefined(
                         "the inline if-expression evaluated to false and no else section was defined");
      }
    }
    throw RenderError("unknown expression");
  }

  Value eval_slice(const SliceExpr& s) {
    Value obj = eval(*s.object);
    Value start = s.start ? eval(*s.start) : Value::none();
    Value stop = s.stop ? eval(*s.stop) : Value::none();
    int64_t step = 1;
    if (s.step) {
      Value st = eval(*s.step);
      if (!st.is_none()) {
        if (!st.is_int()) throw RenderError("slice indices must be integers or None");
        step = st.as_int();
      }
    }
    if (step == 0) throw RenderError("slice step cannot be zero");
    if (obj.is_undefined()) fail_undefined(obj);
    if (obj.is_list()) return Value(slice_vector(obj.as_list(), start, stop, step));
    if (obj.is_string())
      return Value(utf8_encode(slice_vector(utf8_decode(obj.as_string()), start, stop, step)));
    throw RenderError("'" + obj.type_name() + "' object is not subscriptable");
  }

  Value eval_call(const CallExpr& c) {
    if (c.callee->kind == ExprKind::Attr) {
      const auto& a = static_cast<const AttrExpr&>(*c.callee);
      Value obj = eval(*a.object);
      if (obj.is_undefined()) fail_undefined(obj);
      if (obj.is_string() || obj.is_dict() || obj.is_list()) {
        CallArgs args = eval_args(c.args);
        if (auto result = call_method(obj, a.name, args)) return *result;
      }
      Value callee = get_attribute(obj, a.name);
      return call_value(callee, eval_args(c.args));
    }
    Value callee = eval(*c.callee);
    return call_value(callee, eval_args(c.args));
  }

  static Value call_value(const Value& callee, const CallArgs& args) {
    if (callee.is_undefined()) fail_undefined(callee);
    if (!callee.is_callable()) throw RenderError("'" + callee.type_name() + "' object is not callable");
    return callee.as_callable().fn(args);
  }

  Value eval_binary(const BinaryExpr& b) {
    switch (b.op) {
      case BinaryOp::And: {
        Value left = eval(*b.left);
        return left.truthy() ? eval(*b.right) : left;
      }
      case BinaryOp::Or: {
        Value left = eval(*b.left);
        return left.truthy() ? left : eval(*b.right);
      }
      case BinaryOp::Concat: {
        Value left = eval(*b.left);
        Value right = eval(*b.right);
        return Value(left.str() + right.str());
      }
      default:
        break;
    }
    Value left = eval(*b.left);
    Value right = eval(*b.right);
    switch (b.op) {
      case BinaryOp::Add:
        return arithmetic('+', false, left, right);
      case BinaryOp::Sub:
        return arithmetic('-', false, left, right);
      case BinaryOp::Mul:
        return arithmetic('*', false, left, right);
      case BinaryOp::Div:
        return arithmetic('/', false, left, right);
      case BinaryOp::FloorDiv:
        return arithmetic('/', true, left, right);
      case BinaryOp::Mod:
        return arithmetic('%', false, left, right);
      case BinaryOp::Pow:
        return arithmetic('^', false, left, right);
      default:
        break;
    }
    throw RenderError("unknown operator");
  }

  static bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
      case Value::Kind::String:
        if (!item.is_string())
          throw RenderError("'in <string>' requires string as left operand, not " + item.type_name());
        return container.as_string().find(item.as_string()) != std::string::npos;
      case Value::Kind::List:
        return std::any_of(container.as_list().begin(), container.as_list().end(),
                           [&](const Value& v) { return values_equal(v, item); });
      case Value::Kind::Dict:
        return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
      case Value::Kind::Undefined:
        return false;
      default:
        throw RenderError("argument of type '" + container.type_name() + "' is not iterable");
    }
  }

  Value eval_compare(const CompareExpr& c) {
    Value left = eval(*c.first);
    for (const auto& [op, expr] : c.rest) {
      Value right = eval(*expr);
      bool ok = false;
      switch (op) {
        case CompareOp::Eq:
          ok = values_equal(left, right);
          break;
        case CompareOp::Ne:
          ok = !values_equal(left, right);
          break;
        case CompareOp::Lt:
          ok = compare_values(left, right) < 0;
          break;
        case CompareOp::Le:
          ok = compare_values(left, right) <= 0;
          break;
        case CompareOp::Gt:
          ok = compare_values(left, right) > 0;
          break;
        case CompareOp::Ge:
          ok = compare_values(left, right) >= 0;
          break;
        case CompareOp::In:
          ok = contains(right, left);
          break;
        case CompareOp::NotIn:
          ok = !contains(right, left);
          break;
      }
      if (!ok) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  static constexpr int kMaxMacroDepth =
      64;  // Python would raise RecursionError; we must not overflow the stack
  const ValueDict& globals_;
  int macro_depth_ = 0;
  std::vector<std::shared_ptr<ValueDict>> scopes_;
  std::string* out_ = nullptr;
};

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_undefined(obj);
    case Value::Kind::Dict:
      if (is_dict_method(name)) return bound_method(obj, name);
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return undefined_attr(obj, name);
    case Value::Kind::Namespace:
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return undefined_attr(obj, name);
    case Value::Kind::Loop:
      return loop_attribute(obj, name);
    case Value::Kind::String:
      if (is_string_method(name)) return bound_method(obj, name);
      return undefined_attr(obj, name);
    case Value::Kind::List:
      if (name == "index" || name == "count") return bound_method(obj, name);
      return undefined_attr(obj, name);
    default:
      return undefined_attr(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_undefined(obj);
    case Value::Kind::Dict:
    case Value::Kind::Namespace:
      if (key.is_string()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
        if (obj.is_dict() && is_dict_method(key.as_string())) return bound_method(obj, key.as_string());
      }
      return Value::undefined("'dict object' has no attribute " + key.repr());
    case Value::Kind::List:
      if (key.is_int() || key.is_bool()) {
        const ValueList& list = obj.as_list();
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(list.size());
        if (i >= 0 && i < static_cast<int64_t>(list.size())) return list[static_cast<size_t>(i)];
        return Value::undefined("list object has no element " + std::to_string(key.as_int()));
      }
      if (key.is_string()) return get_attribute(obj, key.as_string());
      return Value::undefined("list indices must be integers");
    case Value::Kind::String:
      if (key.is_int() || key.is_bool()) {
        std::vector<char32_t> cps = utf8_decode(obj.as_string());
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(cps.size());
        if (i >= 0 && i < static_cast<int64_t>(cps.size())) {
          std::string out;
          utf8_append(out, cps[static_cast<size_t>(i)]);
          return Value(std::move(out));
        }
        return Value::undefined("str object has no element " + std::to_string(key.as_int()));
      }
      if (key.is_string()) return get_attribute(obj, key.as_string());
      return Value::undefined("string indices must be integers");
    case Value::Kind::Loop:
      if (key.is_string()) return loop_attribute(obj, key.as_string());
      return Value::undefined("loop object has no element " + key.repr());
    default:
      return Value::undefined("'" + obj.type_name() + "' object has no element " + key.repr());
  }
}

Value get_path(const Value& obj, const std::string& path) {
  Value cur = obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = numeric ? get_item(cur, Value(static_cast<int64_t>(std::stoll(part)))) : get_item(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return v.as_list();
    case Value::Kind::Dict: {
      ValueList keys;
      keys.reserve(v.as_dict().items.size());
      for (const auto& item : v.as_dict().items) keys.emplace_back(item.first);
      return keys;
    }
    case Value::Kind::String: {
      ValueList chars;
      for (char32_t cp : utf8_decode(v.as_string())) {
        std::string s;
        utf8_append(s, cp);
        chars.emplace_back(std::move(s));
      }
      return chars;
    }
    default:
      throw RenderError("'" + v.type_name() + "' object is not iterable");
  }
}

std::string render_template(const Template& tmpl, const ValueDict& globals) {
  return Interpreter(globals).render(tmpl);
}

}  // namespace serval::jinja
