// The template syntax tree: expressions and statements, each carrying its source line for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace serval::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  Literal,
  Name,
  List,
  Dict,
  Attr,
  Item,
  Slice,
  Call,
  Filter,
  Test,
  Unary,
  Binary,
  Compare,
  Cond
};

struct Expr {
  Expr(ExprKind kind, int line) : kind(kind), line(line) {}
  virtual ~Expr() = default;
  ExprKind kind;
  int line;
};

struct Args {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct LiteralExpr : Expr {
  LiteralExpr(Value v, int line) : Expr(ExprKind::Literal, line), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(std::string n, int line) : Expr(ExprKind::Name, line), name(std::move(n)) {}
  std::string name;
};

struct ListExpr : Expr {  // list or tuple literal
  explicit ListExpr(int line) : Expr(ExprKind::List, line) {}
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  explicit DictExpr(int line) : Expr(ExprKind::Dict, line) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct AttrExpr : Expr {  // object.name
  AttrExpr(ExprPtr o, std::string n, int line)
      : Expr(ExprKind::Attr, line), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct ItemExpr : Expr {  // object[index]
  ItemExpr(ExprPtr o, ExprPtr i, int line)
      : Expr(ExprKind::Item, line), object(std::move(o)), index(std::move(i)) {}
  ExprPtr object;
  ExprPtr index;
};

struct SliceExpr : Expr {  // object[start:stop:step], parts may be null
  SliceExpr(ExprPtr o, int line) : Expr(ExprKind::Slice, line), object(std::move(o)) {}
  ExprPtr object, start, stop, step;
};

struct CallExpr : Expr {
  CallExpr(ExprPtr c, int line) : Expr(ExprKind::Call, line), callee(std::move(c)) {}
  ExprPtr callee;
  Args args;
};

struct FilterExpr : Expr {  // operand | name(args); operand is null inside {% filter %} blocks
  FilterExpr(ExprPtr o, std::string n, int line)
      : Expr(ExprKind::Filter, line), operand(std::move(o)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  Args args;
};

struct TestExpr : Expr {  // operand is [not] name(args)
  TestExpr(ExprPtr o, std::string n, bool neg, int line)
      : Expr(ExprKind::Test, line), operand(std::move(o)), name(std::move(n)), negated(neg) {}
  ExprPtr operand;
  std::string name;
  bool negated;
  Args args;
};

enum class UnaryOp { Not, Neg, Pos };
struct UnaryExpr : Expr {
  UnaryExpr(UnaryOp o, ExprPtr e, int line) : Expr(ExprKind::Unary, line), op(o), operand(std::move(e)) {}
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp { And, Or, Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat };
struct BinaryExpr : Expr {
  BinaryExpr(BinaryOp o, ExprPtr l, ExprPtr r, int line)
      : Expr(ExprKind::Binary, line), op(o), left(std::move(l)), right(std::move(r)) {}
  BinaryOp op;
  ExprPtr left, right;
};

enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct CompareExpr : Expr {  // first op1 e1 op2 e2 ... (chained like Python)
  CompareExpr(ExprPtr f, int line) : Expr(ExprKind::Compare, line), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct CondExpr : Expr {  // then if cond else otherwise (otherwise may be null -> undefined)
  CondExpr(ExprPtr t, ExprPtr c, ExprPtr o, int line)
      : Expr(ExprKind::Cond, line), then(std::move(t)), cond(std::move(c)), otherwise(std::move(o)) {}
  ExprPtr then, cond, otherwise;
};

enum class StmtKind { Text, Output, If, For, Set, Macro, CallBlock, FilterBlock, Break, Continue, Scope };

struct Stmt {
  Stmt(StmtKind kind, int line) : kind(kind), line(line) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  int line;
};

struct TextStmt : Stmt {
  TextStmt(std::string t, int line) : Stmt(StmtKind::Text, line), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {  // {{ expr }}
  OutputStmt(ExprPtr e, int line) : Stmt(StmtKind::Output, line), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(int line) : Stmt(StmtKind::If, line) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if + elifs
  Body otherwise;
};

struct ForStmt : Stmt {
  explicit ForStmt(int line) : Stmt(StmtKind::For, line) {}
  std::vector<std::string> targets;  // one name, or several to unpack
  ExprPtr iterable;
  ExprPtr filter;  // `if cond` after the iterable, may be null
  Body body;
  Body otherwise;  // {% else %}: rendered when nothing was iterated
};

struct SetStmt : Stmt {
  explicit SetStmt(int line) : Stmt(StmtKind::Set, line) {}
  std::vector<std::string> targets;  // names (several: tuple unpacking)
  std::string attr;                  // non-empty: {% set targets[0].attr = ... %} on a namespace
  ExprPtr value;                     // null for a block set
  Body body;                         // block set: {% set x %}...{% endset %}
  std::vector<std::unique_ptr<FilterExpr>> filters;  // block set filters: {% set x | upper %}
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  explicit MacroStmt(int line) : Stmt(StmtKind::Macro, line) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
};

struct CallBlockStmt : Stmt {  // {% call(params) macro(args) %}body{% endcall %}
  explicit CallBlockStmt(int line) : Stmt(StmtKind::CallBlock, line) {}
  std::vector<MacroParam> params;  // of caller()
  std::unique_ptr<CallExpr> call;
  Body body;
};

struct FilterBlockStmt : Stmt {  // {% filter upper | trim %}body{% endfilter %}
  explicit FilterBlockStmt(int line) : Stmt(StmtKind::FilterBlock, line) {}
  std::vector<std::unique_ptr<FilterExpr>> filters;
  Body body;
};

struct ScopeStmt : Stmt {  // a body rendered as-is: {% generation %}...{% endgeneration %}
  explicit ScopeStmt(int line) : Stmt(StmtKind::Scope, line) {}
  Body body;
};

struct Template {
  Body body;
};

}  // namespace serval::jinja
