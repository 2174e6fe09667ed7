// Drives a serval server with the official `openai` npm client (v5) and prints what it saw as JSON.
// Usage: node openai_client.mjs BASE_URL [API_KEY] [MODEL] [EXTRA_JSON]   (BASE_URL like http://127.0.0.1:8000/v1)
// EXTRA_JSON is merged into every generation request (e.g. '{"temperature":0}' for a real model).
import OpenAI from "openai";

const [baseURL, apiKey = "EMPTY", model = "test-model", extraJson = "{}"] = process.argv.slice(2);
const extra = JSON.parse(extraJson);
if (!baseURL) {
  console.error("usage: node openai_client.mjs BASE_URL [API_KEY]");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const messages = [{ role: "user", content: "hi" }];
const out = {};

const chat = await client.chat.completions.create({ model, messages, max_tokens: 5, seed: 1, ...extra });
out.chat = {
  id: chat.id,
  object: chat.object,
  text: chat.choices[0].message.content,
  role: chat.choices[0].message.role,
  finish_reason: chat.choices[0].finish_reason,
  usage: chat.usage,
};

let text = "";
let roles = [];
let finish = null;
let usage = null;
const chatStream = await client.chat.completions.create({
  model, messages, max_tokens: 5, seed: 1, stream: true, stream_options: { include_usage: true }, ...extra,
});
for await (const chunk of chatStream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta.role) roles.push(c.delta.role);
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.chat_stream = { text, roles, finish_reason: finish, usage };

const cmpl = await client.completions.create({ model, prompt: "hello", max_tokens: 6, logprobs: 1, ...extra });
out.completion = {
  id: cmpl.id,
  object: cmpl.object,
  text: cmpl.choices[0].text,
  finish_reason: cmpl.choices[0].finish_reason,
  num_logprob_tokens: cmpl.choices[0].logprobs?.tokens?.length ?? 0,
  usage: cmpl.usage,
};

text = "";
finish = null;
usage = null;
const cmplStream = await client.completions.create({
  model, prompt: "hello", max_tokens: 6, stream: true, stream_options: { include_usage: true }, ...extra,
});
for await (const chunk of cmplStream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.text;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.completion_stream = { text, finish_reason: finish, usage };

const models = await client.models.list();
out.models = models.data.map((m) => ({ id: m.id, owned_by: m.owned_by }));

try {
  await client.completions.create({ model: "no-such-model", prompt: "x" });
  out.unknown_model = { status: 200 };
} catch (e) {
  out.unknown_model = { status: e.status, class: e.constructor.name, message: e.error?.message ?? e.message };
}

console.log(JSON.stringify(out));
