// Test oracle: renders chat templates with @huggingface/jinja (never shipped).
// Usage: node render_templates.mjs CASES.json
//   CASES.json: [{"template": "...", "context": {...}, "now": epoch_seconds?}, ...]
// Prints a JSON list, one entry per case: {"ok": true, "text": "..."} or {"ok": false, "error": "..."}.
// "now" fixes strftime_now() to that instant (local time), so renders are reproducible.
import fs from "node:fs";
import { Template } from "@huggingface/jinja";

// strftime_now is a built-in global of @huggingface/jinja that reads `new Date()`; a context variable
// cannot replace it, so the clock itself is fixed while such a case renders.
const RealDate = Date;
function withFixedNow(epochSeconds, render) {
  if (epochSeconds === undefined) return render();
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      super(...(args.length ? args : [epochSeconds * 1000]));
    }
    static now() {
      return epochSeconds * 1000;
    }
  };
  try {
    return render();
  } finally {
    globalThis.Date = RealDate;
  }
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const compiled = new Map();
const results = cases.map((c) => {
  try {
    let template = compiled.get(c.template);
    if (template === undefined) {
      template = new Template(c.template);
      compiled.set(c.template, template);
    }
    return { ok: true, text: withFixedNow(c.now, () => template.render(c.context)) };
  } catch (e) {
    return { ok: false, error: String((e && e.message) || e) };
  }
});
process.stdout.write(JSON.stringify(results));
