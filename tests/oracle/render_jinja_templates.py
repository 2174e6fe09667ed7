# Test oracle: renders chat templates with Python Jinja2 set up as transformers' apply_chat_template does
# (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, raise_exception, strftime_now,
# tojson with ensure_ascii=False). Never shipped. Needs Debian's python3-jinja2.
# Usage: python3 render_jinja_templates.py CASES.json  (same case and result format as render_templates.mjs)
import json
import sys
from datetime import datetime

from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class GenerationTag(Extension):
    """transformers' {% generation %}...{% endgeneration %} tag (marks assistant text; renders its body)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env(now):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, GenerationTag]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: (datetime.fromtimestamp(now) if now is not None else datetime.now()).strftime(fmt)
    return env


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    compiled = {}
    for case in cases:
        try:
            key = (case["template"], case.get("now"))
            if key not in compiled:
                compiled[key] = make_env(case.get("now")).from_string(case["template"])
            template = compiled[key]
            results.append({"ok": True, "text": template.render(**case["context"])})
        except Exception as e:  # every failure is a result the C++ side must match
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    sys.stdout.write(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
