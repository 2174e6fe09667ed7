// Jinja2 parser (see parser.h): recursive descent following jinja2/parser.py's grammar and precedence.
#include "chat/jinja/parser.h"

#include <initializer_list>

#include "core/error.h"

namespace serval::jinja {

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::unique_ptr<Template> run() {
    auto tmpl = std::make_unique<Template>();
    tmpl->body = subparse({});
    if (cur().type != TokenType::End) fail(cur(), "unexpected '" + describe(cur()) + "'");
    return tmpl;
  }

 private:
  // Bounds recursion so that a hostile template cannot overflow the stack.
  struct DepthGuard {
    DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxDepth)
        parser.fail(parser.cur(),
                    "template nests too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };
  static constexpr int kMaxDepth = 100;

  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw Error("chat template line " + std::to_string(at.line) + ": " + message + " (column " +
                std::to_string(at.column) + ")");
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::Text:
        return "text";
      case TokenType::VarBegin:
        return "{{";
      case TokenType::VarEnd:
        return "}}";
      case TokenType::BlockBegin:
        return "{%";
      case TokenType::BlockEnd:
        return "%}";
      case TokenType::End:
        return "end of template";
      case TokenType::String:
        return "string literal";
      default:
        return t.value;
    }
  }

  bool is_op(const char* op) const { return cur().type == TokenType::Op && cur().value == op; }
  bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().value == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(cur(), std::string("expected '") + op + "', got '" + describe(cur()) + "'");
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd)
      fail(cur(), "expected end of statement block '%}', got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_name(const char* what) {
    if (cur().type != TokenType::Name)
      fail(cur(), std::string("expected ") + what + ", got '" + describe(cur()) + "'");
    return next().value;
  }

  // Parses statements until a {% name %} with name in `end_names` (left unconsumed, positioned at the name).
  Body subparse(std::initializer_list<const char*> end_names) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TokenType::End) {
        if (end_names.size() > 0) {
          std::string expected;
          for (const char* n : end_names)
            expected += (expected.empty() ? "'" : " or '") + std::string(n) + "'";
          fail(t, "unexpected end of template, expected " + expected);
        }
        return body;
      }
      if (t.type == TokenType::Text) {
        body.push_back(std::make_unique<TextStmt>(t.value, t.line));
        next();
      } else if (t.type == TokenType::VarBegin) {
        next();
        auto expr = parse_tuple(true);
        if (cur().type != TokenType::VarEnd)
          fail(cur(), "expected end of print statement '}}', got '" + describe(cur()) + "'");
        next();
        body.push_back(std::make_unique<OutputStmt>(std::move(expr), t.line));
      } else if (t.type == TokenType::BlockBegin) {
        const Token& name = peek();
        if (name.type != TokenType::Name) fail(name, "expected a tag name, got '" + describe(name) + "'");
        for (const char* end : end_names)
          if (name.value == end) {
            next();  // the {%
            return body;
          }
        next();
        body.push_back(parse_statement());
      } else {
        fail(t, "unexpected '" + describe(t) + "'");
      }
    }
  }

  // Consumes `{% end_name %}` after subparse stopped at end_name.
  void finish_end_tag() {
    next();  // the end name
    expect_block_end();
  }

  StmtPtr parse_statement() {
    const Token& tag = next();
    int line = tag.line;
    const std::string& name = tag.value;
    if (name == "if") return parse_if(line);
    if (name == "for") return parse_for(line);
    if (name == "set") return parse_set(line);
    if (name == "macro") return parse_macro(line);
    if (name == "call") return parse_call_block(line);
    if (name == "filter") return parse_filter_block(line);
    if (name == "break" || name == "continue") {
      expect_block_end();
      return std::make_unique<Stmt>(name == "break" ? StmtKind::Break : StmtKind::Continue, line);
    }
    if (name == "generation") {
      auto stmt = std::make_unique<ScopeStmt>(line);
      expect_block_end();
      stmt->body = subparse({"endgeneration"});
      finish_end_tag();
      return stmt;
    }
    static const char* const kEndTags[] = {"endif",     "endfor", "endset", "endmacro",     "endcall",
                                           "endfilter", "elif",   "else",   "endgeneration"};
    for (const char* end : kEndTags)
      if (name == end) fail(tag, "unexpected '" + name + "' (no open block it could close)");
    fail(tag, "unknown or unsupported tag '" + name + "'");
  }

  StmtPtr parse_if(int line) {
    auto stmt = std::make_unique<IfStmt>(line);
    while (true) {
      auto cond = parse_tuple(false);
      expect_block_end();
      Body body = subparse({"elif", "else", "endif"});
      stmt->branches.emplace_back(std::move(cond), std::move(body));
      std::string end = next().value;
      if (end == "elif") continue;
      if (end == "else") {
        expect_block_end();
        stmt->otherwise = subparse({"endif"});
        finish_end_tag();
      } else {
        expect_block_end();
      }
      return stmt;
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      names.push_back(expect_name("a variable name"));
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for(int line) {
    auto stmt = std::make_unique<ForStmt>(line);
    stmt->targets = parse_targets();
    if (!skip_name("in")) fail(cur(), "expected 'in' in for loop, got '" + describe(cur()) + "'");
    stmt->iterable = parse_tuple(false, false);
    if (skip_name("if")) stmt->filter = parse_tuple(false);
    if (is_name("recursive")) fail(cur(), "recursive for loops are not supported");
    expect_block_end();
    stmt->body = subparse({"endfor", "else"});
    if (next().value == "else") {
      expect_block_end();
      stmt->otherwise = subparse({"endfor"});
      finish_end_tag();
    } else {
      expect_block_end();
    }
    return stmt;
  }

  StmtPtr parse_set(int line) {
    auto stmt = std::make_unique<SetStmt>(line);
    std::string first = expect_name("a variable name");
    if (skip_op(".")) {
      stmt->targets.push_back(first);
      stmt->attr = expect_name("an attribute name");
    } else {
      stmt->targets.push_back(first);
      while (skip_op(",")) stmt->targets.push_back(expect_name("a variable name"));
    }
    if (skip_op("=")) {
      stmt->value = parse_tuple(true);
      expect_block_end();
      return stmt;
    }
    if (stmt->targets.size() != 1 || !stmt->attr.empty()) fail(cur(), "expected '=' in set statement");
    while (skip_op("|")) stmt->filters.push_back(parse_filter_call(nullptr));
    expect_block_end();
    stmt->body = subparse({"endset"});
    finish_end_tag();
    return stmt;
  }

  std::vector<MacroParam> parse_params() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam p;
      p.name = expect_name("a parameter name");
      if (skip_op("=")) p.default_value = parse_expression();
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  StmtPtr parse_macro(int line) {
    auto stmt = std::make_unique<MacroStmt>(line);
    stmt->name = expect_name("a macro name");
    stmt->params = parse_params();
    expect_block_end();
    stmt->body = subparse({"endmacro"});
    finish_end_tag();
    return stmt;
  }

  StmtPtr parse_call_block(int line) {
    auto stmt = std::make_unique<CallBlockStmt>(line);
    if (is_op("(")) stmt->params = parse_params();
    const Token& at = cur();
    ExprPtr call = parse_expression();
    if (call->kind != ExprKind::Call) fail(at, "expected a call expression after 'call'");
    stmt->call.reset(static_cast<CallExpr*>(call.release()));
    expect_block_end();
    stmt->body = subparse({"endcall"});
    finish_end_tag();
    return stmt;
  }

  StmtPtr parse_filter_block(int line) {
    auto stmt = std::make_unique<FilterBlockStmt>(line);
    do {
      stmt->filters.push_back(parse_filter_call(nullptr));
    } while (skip_op("|"));
    expect_block_end();
    stmt->body = subparse({"endfilter"});
    finish_end_tag();
    return stmt;
  }

  // --- expressions ---

  // A comma-separated list becomes a tuple (list literal); with_condexpr allows `a if b else c`.
  ExprPtr parse_tuple(bool with_condexpr, bool allow_empty_check = true) {
    (void)allow_empty_check;
    int line = cur().line;
    ExprPtr first = with_condexpr ? parse_expression() : parse_or();
    if (!is_op(",")) return first;
    auto tuple = std::make_unique<ListExpr>(line);
    tuple->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().type == TokenType::VarEnd || cur().type == TokenType::BlockEnd || is_op(")") || is_name("if"))
        break;
      tuple->items.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    return tuple;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      int line = next().line;
      ExprPtr cond = parse_or();
      ExprPtr otherwise;
      if (skip_name("else")) otherwise = parse_expression();
      expr = std::make_unique<CondExpr>(std::move(expr), std::move(cond), std::move(otherwise), line);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      int line = next().line;
      left = std::make_unique<BinaryExpr>(BinaryOp::Or, std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      int line = next().line;
      left = std::make_unique<BinaryExpr>(BinaryOp::And, std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    DepthGuard guard(*this);
    if (is_name("not")) {
      int line = next().line;
      return std::make_unique<UnaryExpr>(UnaryOp::Not, parse_not(), line);
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr expr = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      CompareOp op;
      if (cur().type == TokenType::Op && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                          cur().value == "<=" || cur().value == ">" || cur().value == ">=")) {
        const std::string& v = cur().value;
        op = v == "=="   ? CompareOp::Eq
             : v == "!=" ? CompareOp::Ne
             : v == "<"  ? CompareOp::Lt
             : v == "<=" ? CompareOp::Le
             : v == ">"  ? CompareOp::Gt
                         : CompareOp::Ge;
        next();
      } else if (is_name("in")) {
        op = CompareOp::In;
        next();
      } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
        op = CompareOp::NotIn;
        next();
        next();
      } else {
        break;
      }
      if (!cmp) cmp = std::make_unique<CompareExpr>(std::move(expr), line);
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (cmp) return cmp;
    return expr;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      left = std::make_unique<BinaryExpr>(t.value == "+" ? BinaryOp::Add : BinaryOp::Sub, std::move(left),
                                          parse_concat(), t.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      int line = next().line;
      left = std::make_unique<BinaryExpr>(BinaryOp::Concat, std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      BinaryOp op = t.value == "*"    ? BinaryOp::Mul
                    : t.value == "/"  ? BinaryOp::Div
                    : t.value == "//" ? BinaryOp::FloorDiv
                                      : BinaryOp::Mod;
      left = std::make_unique<BinaryExpr>(op, std::move(left), parse_pow(), t.line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      int line = next().line;
      left = std::make_unique<BinaryExpr>(BinaryOp::Pow, std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      node = std::make_unique<UnaryExpr>(t.value == "-" ? UnaryOp::Neg : UnaryOp::Pos, parse_unary(false),
                                         t.line);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::Name: {
        next();
        if (t.value == "true" || t.value == "True") return std::make_unique<LiteralExpr>(Value(true), t.line);
        if (t.value == "false" || t.value == "False")
          return std::make_unique<LiteralExpr>(Value(false), t.line);
        if (t.value == "none" || t.value == "None")
          return std::make_unique<LiteralExpr>(Value::none(), t.line);
        return std::make_unique<NameExpr>(t.value, t.line);
      }
      case TokenType::String: {
        std::string s = next().value;
        while (cur().type == TokenType::String) s += next().value;  // adjacent literals concatenate
        return std::make_unique<LiteralExpr>(Value(std::move(s)), t.line);
      }
      case TokenType::Int: {
        next();
        try {
          return std::make_unique<LiteralExpr>(Value(static_cast<int64_t>(std::stoll(t.value))), t.line);
        } catch (const std::out_of_range&) {
          fail(t, "integer literal out of range: " + t.value);
        }
      }
      case TokenType::Float:
        next();
        return std::make_unique<LiteralExpr>(Value(std::stod(t.value)), t.line);
      case TokenType::Op:
        if (t.value == "(") {
          next();
          if (skip_op(")")) return std::make_unique<ListExpr>(t.line);  // empty tuple
          ExprPtr first = parse_expression();
          if (skip_op(")")) return first;
          auto tuple = std::make_unique<ListExpr>(t.line);
          tuple->items.push_back(std::move(first));
          while (skip_op(",")) {
            if (is_op(")")) break;
            tuple->items.push_back(parse_expression());
          }
          expect_op(")");
          return tuple;
        }
        if (t.value == "[") {
          next();
          auto list = std::make_unique<ListExpr>(t.line);
          while (!is_op("]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op("]")) break;
            list->items.push_back(parse_expression());
          }
          expect_op("]");
          return list;
        }
        if (t.value == "{") {
          next();
          auto dict = std::make_unique<DictExpr>(t.line);
          while (!is_op("}")) {
            if (!dict->items.empty()) expect_op(",");
            if (is_op("}")) break;
            ExprPtr key = parse_expression();
            expect_op(":");
            dict->items.emplace_back(std::move(key), parse_expression());
          }
          expect_op("}");
          return dict;
        }
        break;
      default:
        break;
    }
    fail(t, "unexpected '" + describe(t) + "'");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        int line = next().line;
        if (cur().type == TokenType::Name) {
          node = std::make_unique<AttrExpr>(std::move(node), next().value, line);
        } else if (cur().type == TokenType::Int) {
          auto index =
              std::make_unique<LiteralExpr>(Value(static_cast<int64_t>(std::stoll(next().value))), line);
          node = std::make_unique<ItemExpr>(std::move(node), std::move(index), line);
        } else {
          fail(cur(), "expected an attribute name after '.', got '" + describe(cur()) + "'");
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    int line = next().line;  // [
    ExprPtr parts[3];
    int colons = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        next();
        if (++colons > 2) fail(cur(), "too many ':' in slice");
        continue;
      }
      if (parts[colons]) fail(cur(), "expected ']' or ':' in subscript, got '" + describe(cur()) + "'");
      parts[colons] = parse_expression();
    }
    next();  // ]
    if (colons == 0) {
      if (!parts[0]) fail(cur(), "empty subscript");
      return std::make_unique<ItemExpr>(std::move(node), std::move(parts[0]), line);
    }
    auto slice = std::make_unique<SliceExpr>(std::move(node), line);
    slice->start = std::move(parts[0]);
    slice->stop = std::move(parts[1]);
    slice->step = std::move(parts[2]);
    return slice;
  }

  void parse_args(Args& args) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail(cur(), "*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "=") {
        std::string name = next().value;
        next();
        args.keyword.emplace_back(std::move(name), parse_expression());
      } else {
        if (!args.keyword.empty()) fail(cur(), "positional argument follows keyword argument");
        args.positional.push_back(parse_expression());
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = std::make_unique<CallExpr>(std::move(callee), cur().line);
    parse_args(call->args);
    return call;
  }

  std::unique_ptr<FilterExpr> parse_filter_call(ExprPtr operand) {
    int line = cur().line;
    std::string name = expect_name("a filter name");
    while (is_op(".") && peek().type == TokenType::Name) {
      next();
      name += "." + next().value;
    }
    auto filter = std::make_unique<FilterExpr>(std::move(operand), std::move(name), line);
    if (is_op("(")) parse_args(filter->args);
    return filter;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        node = parse_filter_call(std::move(node));
      } else if (is_name("is")) {
        int line = next().line;
        bool negated = skip_name("not");
        std::string name = expect_name("a test name");
        while (is_op(".") && peek().type == TokenType::Name) {
          next();
          name += "." + next().value;
        }
        auto test = std::make_unique<TestExpr>(std::move(node), std::move(name), negated, line);
        const Token& t = cur();
        if (is_op("(")) {
          parse_args(test->args);
        } else if ((t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Int ||
                    t.type == TokenType::Float || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail(t, "you cannot chain multiple tests with 'is'");
          test->args.positional.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(test);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::unique_ptr<Template> parse_template(const std::string& source, const LexerOptions& options) {
  return Parser(tokenize(source, options)).run();
}

}  // namespace serval::jinja
