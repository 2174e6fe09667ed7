// The Jinja interpreter on its own: each construct, Python-semantics edge cases, and errors that name
// the template line. (Byte-exact agreement with Python Jinja2 is chat_template_oracle_test's job.)
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "core/error.h"

namespace serval {
namespace {

using nlohmann::ordered_json;

std::string render(const std::string& source, const ordered_json& context = ordered_json::object()) {
  return ChatTemplate(source).render(ordered_json::array(), ordered_json(nullptr), false, context);
}

std::string error_of(const std::string& source, const ordered_json& context = ordered_json::object()) {
  try {
    render(source, context);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Jinja, PrintsValuesAsPythonStr) {
  EXPECT_EQ(render("{{ 'a' }}|{{ 1 }}|{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ true }}|{{ none }}|{{ undefined_name }}"),
            "a|1|1.0|0.30000000000000004|True|None|");
  EXPECT_EQ(render("{{ [1, 'x', none] }}|{{ {'k': \"it's\"} }}"), "[1, 'x', None]|{'k': \"it's\"}");
  EXPECT_EQ(render("{{ 1e-5 }}|{{ 1e16 }}|{{ 123.0 }}|{{ 10 / 4 }}"), "1e-05|1e+16|123.0|2.5");
}

TEST(Jinja, ArithmeticFollowsPython) {
  EXPECT_EQ(render("{{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 'ab' * 2 }} {{ [1] + [2] }}"),
            "-4 2 3.5 1024 abab [1, 2]");
  EXPECT_EQ(render("{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 'a' ~ 1 ~ none }}"), "3 9 a1None");
}

TEST(Jinja, StringMethodsWithPythonSemantics) {
  EXPECT_EQ(
      render("[{{ '\\n\\nhi\\n'.lstrip('\\n') }}][{{ 'xxhixx'.strip('x') }}][{{ ' \\n a'.lstrip('\\n') }}]"),
      "[hi\n][hi][ \n a]");
  EXPECT_EQ(render("{{ 'a</think>b</think>c'.split('</think>')[-1] }}|{{ '  a  b '.split() | length }}|"
                   "{{ 'a b c'.split(' ', 1)[1] }}"),
            "c|2|b c");
  EXPECT_EQ(
      render("{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith(('x', 'lo')) }}{{ 'abc'.replace('b', '') }}"),
      "TrueTrueac");
  EXPECT_EQ(render("{{ 'héllo wörld'.title() }}|{{ 'ÉCOLE'.lower() }}|{{ 'x'.upper() }}"),
            "Héllo Wörld|école|X");
}

TEST(Jinja, IndexingAndSlicingCountCodePoints) {
  EXPECT_EQ(render("{{ 'héllo'[1] }}{{ 'héllo'[-1] }}{{ 'héllo'[::-1] }}{{ 'héllo' | length }}"), "éoolléh5");
  EXPECT_EQ(render("{{ [1, 2, 3, 4][1:3] }}{{ [1, 2, 3][::-1] }}{{ [1, 2, 3][-1] }}{{ [1][5] is defined }}"),
            "[2, 3][3, 2, 1]3False");
  EXPECT_EQ(render("{{ x[1:] | length }}", {{"x", {1, 2, 3}}}), "2");
}

TEST(Jinja, LoopVariables) {
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.index }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}"),
            "12TrueFalseb;21FalseFalseac;30FalseTrueb;");
  EXPECT_EQ(
      render("{% for x in [1, 2, 3, 4] if x is odd %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}"),
      "1/2 3/2 ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}{{ v }}{% endfor %}"), "b1a2");
  EXPECT_EQ(render("{% for i in range(9) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break "
                   "%}{% endif %}"
                   "{{ i }}{% endfor %}"),
            "013");
}

TEST(Jinja, ScopingAndNamespaces) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"), "21");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor "
                   "%}{{ ns.n }}"),
            "6");
  EXPECT_EQ(render("{% if true %}{% set y = 3 %}{% endif %}{{ y }}"), "3");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(render("{% set body %} x {{ 1 }} {% endset %}[{{ body }}]"), "[ x 1 ]");
}

TEST(Jinja, MacrosCallAndFilterBlocks) {
  EXPECT_EQ(render("{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"), "1B12");
  EXPECT_EQ(render("{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}"), "[in]");
  EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
}

TEST(Jinja, UndefinedAndNoneAreDistinct) {
  ordered_json ctx = {{"n", nullptr}, {"d", {{"a", 1}}}};
  EXPECT_EQ(
      render("{{ n is none }}{{ n is defined }}{{ u is defined }}{{ u is none }}{{ d.b is defined }}", ctx),
      "TrueTrueFalseFalseFalse");
  EXPECT_EQ(render("{{ u | default('x') }}{{ n | default('x') }}{{ '' | default('x', true) }}", ctx),
            "xNonex");
  EXPECT_EQ(render("{{ none.attr is defined }}{{ u | length }}{% for x in u %}x{% endfor %}"), "False0");
  EXPECT_NE(error_of("{{ u.attr }}").find("'u' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ u + 'x' }}").find("'u' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{% for x in n %}{% endfor %}", ctx).find("not iterable"), std::string::npos);
}

TEST(Jinja, FiltersAndTests) {
  ordered_json ctx = {{"msgs", {{{"role", "user"}, {"content", "a"}}, {{"role", "bot"}, {"content", "b"}}}}};
  EXPECT_EQ(render("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}"
                   "{{ msgs | rejectattr('role', 'equalto', 'user') | list | length }}"
                   "{{ msgs | map(attribute='role') | join('+') }}",
                   ctx),
            "a1user+bot");
  EXPECT_EQ(
      render(
          "{{ ' x ' | trim }}|{{ 'a<b' | e }}|{{ [3, 1, 2] | sort | join }}|{{ [1, 1, 2] | unique | join }}|"
          "{{ '7' | int + 1 }}|{{ 'x' | int }}|{{ [1, 2] | first }}{{ [1, 2] | last }}"),
      "x|a&lt;b|123|12|8|0|12");
  EXPECT_EQ(render("{{ 4 is divisibleby 2 }}{{ 'a' is string }}{{ {} is mapping }}{{ 'a' is iterable }}{{ 1 "
                   "is sameas 1 }}"),
            "TrueTrueTrueTrueTrue");
}

TEST(Jinja, TojsonMatchesPythonJsonDumps) {
  ordered_json ctx = {
      {"v", ordered_json::parse(R"({"z": [1, 2.5, null, true], "a": {"q": "é\"\n\u0001"}, "e": []})")}};
  EXPECT_EQ(render("{{ v | tojson }}", ctx),
            R"({"z": [1, 2.5, null, true], "a": {"q": "é\"\n\u0001"}, "e": []})");
  EXPECT_EQ(render("{{ v.z | tojson(indent=2) }}", ctx), "[\n  1,\n  2.5,\n  null,\n  true\n]");
  EXPECT_EQ(render("{{ 'é' | tojson(ensure_ascii=true) }}{{ v.e | tojson(indent=4) }}", ctx),
            "\"\\u00e9\"[]");
  EXPECT_NE(error_of("{{ u | tojson }}").find("not JSON serializable"), std::string::npos);
}

TEST(Jinja, WhitespaceControl) {
  // trim_blocks eats the newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(render("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n"), "  1\n  2\n");
  EXPECT_EQ(render("  {% if true %}\n    yes\n  {% endif %}\nend"), "    yes\nend");
  EXPECT_EQ(render("a  {{- ' b ' -}}  c"), "a b c");
  EXPECT_EQ(render("a\n{#- comment -#}\nb"), "ab");
  EXPECT_EQ(render("a {%+ if true %}x{% endif +%}\nb"), "a x\nb");
  EXPECT_EQ(render("x {% if true %}y{% endif %}"), "x y");  // not alone on its line: kept
  EXPECT_EQ(render("abc\n"), "abc");                        // one trailing newline is dropped
  EXPECT_EQ(render("a\r\nb{% if 1 %}\r\nc{% endif %}"), "a\nbc");
}

TEST(Jinja, SandboxRefusesMutation) {
  EXPECT_NE(error_of("{{ [1].append(2) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(error_of("{% set d = {} %}{{ d.update({'a': 1}) }}").find("unsafe"), std::string::npos);
}

TEST(Jinja, HostileTemplatesFailCleanly) {
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}")
                .find("nests too deeply"),
            std::string::npos);
  EXPECT_NE(error_of("{{" + std::string(5000, '-') + "1 }}").find("nests too deeply"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"), std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000) | length }}").find("range too big"), std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000 }}").find("too large"), std::string::npos);
}

TEST(Jinja, SyntaxErrorsNameTheLine) {
  EXPECT_NE(error_of("a\n{% if x %}\nb\n{% endfor %}").find("chat template line 4:"), std::string::npos);
  EXPECT_NE(error_of("a\n\n{% for x in y %}never closed").find("chat template line 3:"), std::string::npos)
      << error_of("a\n\n{% for x in y %}never closed");
  EXPECT_NE(error_of("{{ 'unterminated }}").find("chat template line 1:"), std::string::npos);
  EXPECT_NE(error_of("line\n{{ (1 + }}").find("chat template line 2:"), std::string::npos);
  EXPECT_NE(error_of("{% frobnicate %}").find("unknown or unsupported tag 'frobnicate'"), std::string::npos);
  EXPECT_NE(error_of("{# never closed").find("missing end of comment"), std::string::npos);
}

TEST(Jinja, RuntimeErrorsNameTheLine) {
  EXPECT_EQ(error_of("a\nb\n{{ raise_exception('Bad role: ' ~ r) }}", {{"r", "x"}}),
            "chat template line 3: Bad role: x");
  EXPECT_EQ(error_of("{% for m in [1] %}\n\n  {{ m | nosuchfilter }}\n{% endfor %}"),
            "chat template line 3: no filter named 'nosuchfilter'");
  EXPECT_NE(error_of("\n{{ 'a' + 1 }}").find("chat template line 2:"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 // 0 }}").find("division"), std::string::npos);
}

}  // namespace
}  // namespace serval
