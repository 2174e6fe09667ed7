// Routes and response shapes of the OpenAI-compatible server, against the MockEngine.
#include "server/test_client.h"

namespace serval::test {
namespace {

size_t chat_prompt_len(const json& messages) {
  return fake_encode(fake_chat_template(messages, nullptr, true), false).size();
}

TEST_F(ServerTest, HealthVersionAndModels) {
  HttpResult h = get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "");

  HttpResult v = get("/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.json_body()["version"], "0.1.0");

  HttpResult m = get("/v1/models");
  ASSERT_EQ(m.status, 200);
  json body = m.json_body();
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 2u);
  EXPECT_EQ(body["data"][0]["id"], "test-model");
  EXPECT_EQ(body["data"][1]["id"], "alias");
  EXPECT_EQ(body["data"][0]["object"], "model");
  EXPECT_EQ(body["data"][0]["owned_by"], "serval");
  EXPECT_EQ(body["data"][0]["root"], "/models/test");
  EXPECT_EQ(body["data"][0]["max_model_len"], 128);
}

TEST_F(ServerTest, CompletionNonStreamed) {
  HttpResult r = post("/v1/completions", {{"model", "test-model"}, {"prompt", "hello"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  json b = r.json_body();
  EXPECT_EQ(b["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(b["object"], "text_completion");
  EXPECT_EQ(b["model"], "test-model");
  EXPECT_TRUE(b["created"].is_number_integer());
  EXPECT_TRUE(b["system_fingerprint"].is_null());
  ASSERT_EQ(b["choices"].size(), 1u);
  // "hello" + BOS = 6 prompt tokens; vLLM's completions default max_tokens is 16.
  EXPECT_EQ(b["choices"][0]["text"], mock_text(6, 16));
  EXPECT_EQ(b["choices"][0]["index"], 0);
  EXPECT_EQ(b["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(b["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(b["usage"]["prompt_tokens"], 6);
  EXPECT_EQ(b["usage"]["completion_tokens"], 16);
  EXPECT_EQ(b["usage"]["total_tokens"], 22);
}

TEST_F(ServerTest, ModelMayBeOmittedOrAnAlias) {
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}}).status, 200);
  HttpResult r = post("/v1/completions", {{"model", "alias"}, {"prompt", "x"}, {"max_tokens", 2}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json_body()["model"], "test-model");  // responses name the first served name, as vLLM
}

TEST_F(ServerTest, CompletionStreamMatchesNonStreamed) {
  json req = {{"model", "test-model"}, {"prompt", "hello"}, {"max_tokens", 7}, {"seed", 3}};
  json plain = post("/v1/completions", req).json_body();
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  HttpResult s = post("/v1/completions", req);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.header("content-type").rfind("text/event-stream", 0), 0u);
  auto events = s.events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    const json& e = events[i];
    EXPECT_EQ(e["object"], "text_completion");
    EXPECT_EQ(e["id"].get<std::string>().rfind("cmpl-", 0), 0u);
    ASSERT_EQ(e["choices"].size(), 1u);
    text += e["choices"][0]["text"].get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
  }
  const json& usage_chunk = events[events.size() - 2];
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(text, plain["choices"][0]["text"]);
  EXPECT_EQ(text, mock_text(6, 7, 3));
  EXPECT_EQ(finish, plain["choices"][0]["finish_reason"]);
  EXPECT_EQ(usage_chunk["usage"], plain["usage"]);
}

TEST_F(ServerTest, StreamWithoutIncludeUsageHasNoUsageChunk) {
  HttpResult s = post("/v1/completions", {{"prompt", "hi"}, {"max_tokens", 3}, {"stream", true}});
  for (const json& e : s.events())
    if (e.is_object()) {
      EXPECT_FALSE(e.contains("usage") && !e["usage"].is_null());
    }
}

TEST_F(ServerTest, ChatNonStreamed) {
  json messages = json::array({{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}});
  HttpResult r = post("/v1/chat/completions", {{"model", "test-model"}, {"messages", messages}, {"max_tokens", 5}});
  ASSERT_EQ(r.status, 200) << r.body;
  json b = r.json_body();
  EXPECT_EQ(b["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(b["object"], "chat.completion");
  const size_t plen = chat_prompt_len(messages);
  EXPECT_EQ(b["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(b["choices"][0]["message"]["content"], mock_text(plen, 5));
  EXPECT_EQ(b["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(b["usage"]["prompt_tokens"], static_cast<int>(plen));
  EXPECT_EQ(b["usage"]["completion_tokens"], 5);
  // The template output is tokenized without special tokens (no BOS from the fake tokenizer).
  ASSERT_EQ(engine_.submitted().size(), 1u);
  EXPECT_EQ(engine_.submitted()[0].prompt_ids, fake_encode(fake_chat_template(messages, nullptr, true), false));
}

TEST_F(ServerTest, ChatContentPartsAreFlattened) {
  json messages = json::array(
      {{{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}})}}});
  ASSERT_EQ(post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 1}}).status, 200);
  EXPECT_EQ(engine_.submitted()[0].prompt_ids, fake_encode("<|user|>a\nb\n<|assistant|>", false));
}

TEST_F(ServerTest, ChatStreamRoleFirstAndMatchesNonStreamed) {
  json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  json req = {{"messages", messages}, {"max_completion_tokens", 6}, {"seed", 11}};
  json plain = post("/v1/chat/completions", req).json_body();
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  auto events = post("/v1/chat/completions", req).events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string finish;
  for (size_t i = 1; i + 2 < events.size(); ++i) {
    const json& d = events[i]["choices"][0]["delta"];
    EXPECT_FALSE(d.contains("role"));
    if (d.contains("content")) text += d["content"].get<std::string>();
    if (!events[i]["choices"][0]["finish_reason"].is_null()) finish = events[i]["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, plain["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(events[events.size() - 2]["usage"], plain["usage"]);
  EXPECT_EQ(plain["usage"]["completion_tokens"], 6);
}

TEST_F(ServerTest, NGreaterThanOneGivesIndexedChoices) {
  HttpResult r = post("/v1/completions", {{"prompt", "abc"}, {"n", 3}, {"max_tokens", 4}, {"seed", 5}});
  ASSERT_EQ(r.status, 200);
  json b = r.json_body();
  ASSERT_EQ(b["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b["choices"][i]["index"], i);
    EXPECT_EQ(b["choices"][i]["text"], mock_text(4, 4, 5 + i));  // each child gets seed + index
  }
  EXPECT_EQ(b["usage"]["prompt_tokens"], 4);  // counted once per prompt
  EXPECT_EQ(b["usage"]["completion_tokens"], 12);
  auto sub = engine_.submitted();
  ASSERT_EQ(sub.size(), 3u);
  std::string id = b["id"];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sub[i].request_id, id + "-" + std::to_string(i));
}

TEST_F(ServerTest, NGreaterThanOneStreamed) {
  json req = {{"prompt", "abc"}, {"n", 2}, {"max_tokens", 3}, {"stream", true}};
  auto events = post("/v1/completions", req).events();
  std::map<int, std::string> texts;
  for (const json& e : events)
    if (e.is_object()) texts[e["choices"][0]["index"].get<int>()] += e["choices"][0]["text"].get<std::string>();
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0], mock_text(4, 3));
  EXPECT_EQ(texts[1], mock_text(4, 3));
}

TEST_F(ServerTest, PromptForms) {
  // list of strings x n=2
  json b = post("/v1/completions", {{"prompt", {"ab", "abcd"}}, {"n", 2}, {"max_tokens", 2}}).json_body();
  ASSERT_EQ(b["choices"].size(), 4u);
  EXPECT_EQ(b["choices"][0]["text"], mock_text(3, 2));
  EXPECT_EQ(b["choices"][3]["index"], 3);
  EXPECT_EQ(b["choices"][3]["text"], mock_text(5, 2));
  EXPECT_EQ(b["usage"]["prompt_tokens"], 8);
  // token ids
  b = post("/v1/completions", {{"prompt", {104, 105}}, {"max_tokens", 2}}).json_body();
  EXPECT_EQ(b["choices"][0]["text"], mock_text(2, 2));
  EXPECT_EQ(engine_.submitted().back().prompt_ids, (std::vector<int32_t>{104, 105}));
  // list of lists of token ids
  b = post("/v1/completions", {{"prompt", {{104}, {104, 105, 106}}}, {"max_tokens", 1}}).json_body();
  ASSERT_EQ(b["choices"].size(), 2u);
  EXPECT_EQ(b["usage"]["prompt_tokens"], 4);
}

TEST_F(ServerTest, EchoPrependsPrompt) {
  json b = post("/v1/completions", {{"prompt", "hey"}, {"max_tokens", 2}, {"echo", true}}).json_body();
  EXPECT_EQ(b["choices"][0]["text"], "hey" + mock_text(4, 2));
  auto events = post("/v1/completions", {{"prompt", "hey"}, {"max_tokens", 2}, {"echo", true}, {"stream", true}}).events();
  std::string text;
  for (const json& e : events)
    if (e.is_object()) text += e["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, "hey" + mock_text(4, 2));
}

TEST_F(ServerTest, CompletionLogprobsShape) {
  json b = post("/v1/completions", {{"prompt", "hi"}, {"max_tokens", 3}, {"logprobs", 2}}).json_body();
  const json& lp = b["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << b.dump();
  ASSERT_EQ(lp["tokens"].size(), 3u);
  ASSERT_EQ(lp["token_logprobs"].size(), 3u);
  ASSERT_EQ(lp["top_logprobs"].size(), 3u);
  EXPECT_EQ(lp["text_offset"], json({0, 1, 2}));
  std::string text = mock_text(3, 3);
  EXPECT_EQ(lp["tokens"][0], std::string(1, text[0]));
  EXPECT_FLOAT_EQ(lp["token_logprobs"][0].get<float>(), -0.25f);
  // top-2 ('a', 'b') plus the sampled token, as a token -> logprob map
  const json& top = lp["top_logprobs"][0];
  EXPECT_TRUE(top.contains("a"));
  EXPECT_TRUE(top.contains("b"));
  EXPECT_TRUE(top.contains(std::string(1, text[0])));
  EXPECT_EQ(engine_.submitted().back().params.logprobs, 2);

  // Streamed logprobs carry the same tokens, with offsets running across chunks.
  auto events = post("/v1/completions", {{"prompt", "hi"}, {"max_tokens", 3}, {"logprobs", 2}, {"stream", true}}).events();
  json offsets = json::array();
  for (const json& e : events)
    if (e.is_object() && e["choices"][0]["logprobs"].is_object())
      for (const auto& o : e["choices"][0]["logprobs"]["text_offset"]) offsets.push_back(o);
  EXPECT_EQ(offsets, json({0, 1, 2}));
}

TEST_F(ServerTest, ChatLogprobsShape) {
  json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  json b = post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 2}, {"logprobs", true}, {"top_logprobs", 2}})
               .json_body();
  const json& content = b["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u) << b.dump();
  EXPECT_TRUE(content[0]["token"].is_string());
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.25f);
  EXPECT_EQ(content[0]["bytes"].size(), 1u);
  ASSERT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(content[0]["top_logprobs"][0]["token"], "a");
  EXPECT_EQ(content[0]["top_logprobs"][0]["bytes"], json({97}));
  EXPECT_FLOAT_EQ(content[0]["top_logprobs"][1]["logprob"].get<float>(), -1.5f);

  json plain = post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 2}}).json_body();
  EXPECT_TRUE(plain["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(engine_.submitted().back().params.logprobs, -1);
}

TEST_F(ServerTest, SamplingFieldsReachTheEngine) {
  json req = {{"prompt", "hi"},         {"max_tokens", 5},         {"temperature", 0.5},   {"top_p", 0.9},
              {"top_k", 7},             {"min_p", 0.1},            {"seed", 42},           {"presence_penalty", 0.5},
              {"frequency_penalty", -0.5}, {"repetition_penalty", 1.1}, {"min_tokens", 2}, {"ignore_eos", true},
              {"stop", {"zz", "q"}},    {"stop_token_ids", {7, 8}}, {"skip_special_tokens", false},
              {"include_stop_str_in_output", true}};
  ASSERT_EQ(post("/v1/completions", req).status, 200);
  const auto submitted = engine_.submitted();
  const EngineRequest& r = submitted.back();
  EXPECT_FLOAT_EQ(r.params.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.params.top_p, 0.9f);
  EXPECT_EQ(r.params.top_k, 7);
  EXPECT_FLOAT_EQ(r.params.min_p, 0.1f);
  EXPECT_EQ(r.params.seed, 42u);
  EXPECT_FLOAT_EQ(r.params.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.params.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.params.repetition_penalty, 1.1f);
  EXPECT_EQ(r.params.min_tokens, 2);
  EXPECT_TRUE(r.params.ignore_eos);
  EXPECT_EQ(r.params.max_tokens, 5);
  EXPECT_EQ(r.params.stop_token_ids, (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(r.stop, (std::vector<std::string>{"zz", "q"}));
  EXPECT_FALSE(r.skip_special_tokens);
  EXPECT_TRUE(r.include_stop_str_in_output);
}

TEST_F(ServerTest, MaxTokensDefaults) {
  json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  ASSERT_EQ(post("/v1/chat/completions", {{"messages", messages}, {"ignore_eos", true}}).status, 200);
  EXPECT_EQ(engine_.submitted().back().params.max_tokens, 128 - static_cast<int>(chat_prompt_len(messages)));
  ASSERT_EQ(post("/v1/completions", {{"prompt", "hello"}}).status, 200);
  EXPECT_EQ(engine_.submitted().back().params.max_tokens, 16);
  ASSERT_EQ(post("/v1/completions", {{"prompt", "hello"}, {"max_tokens", nullptr}}).status, 200);
  EXPECT_EQ(engine_.submitted().back().params.max_tokens, 128 - 6);
}

TEST_F(ServerTest, StopStringAndStopTokenFinishWithStop) {
  // The mock's text for a 3-token prompt starts "def..."; stop at "e".
  json b = post("/v1/completions", {{"prompt", "ab"}, {"max_tokens", 10}, {"stop", "e"}}).json_body();
  EXPECT_EQ(b["choices"][0]["text"], "d");
  EXPECT_EQ(b["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(b["choices"][0]["stop_reason"], "e");
  b = post("/v1/completions", {{"prompt", "ab"}, {"max_tokens", 10}, {"stop_token_ids", {'f'}}}).json_body();
  EXPECT_EQ(b["choices"][0]["text"], "de");
  EXPECT_EQ(b["choices"][0]["stop_reason"], 'f');
  EXPECT_EQ(b["choices"][0]["finish_reason"], "stop");
}

TEST_F(ServerTest, EosFinishesWithStopUnlessIgnored) {
  engine_.eos_after = 2;
  json b = post("/v1/completions", {{"prompt", "ab"}, {"max_tokens", 10}}).json_body();
  EXPECT_EQ(b["choices"][0]["text"], mock_text(3, 2));
  EXPECT_EQ(b["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(b["usage"]["completion_tokens"], 3);
  b = post("/v1/completions", {{"prompt", "ab"}, {"max_tokens", 4}, {"ignore_eos", true}}).json_body();
  EXPECT_EQ(b["choices"][0]["finish_reason"], "length");
}

TEST_F(ServerTest, TokenizeAndDetokenize) {
  json t = post("/tokenize", {{"model", "test-model"}, {"prompt", "hi"}}).json_body();
  EXPECT_EQ(t["tokens"], json({1, 104, 105}));
  EXPECT_EQ(t["count"], 3);
  EXPECT_EQ(t["max_model_len"], 128);
  EXPECT_TRUE(t["token_strs"].is_null());
  t = post("/tokenize", {{"prompt", "hi"}, {"add_special_tokens", false}, {"return_token_strs", true}}).json_body();
  EXPECT_EQ(t["tokens"], json({104, 105}));
  EXPECT_EQ(t["token_strs"], json({"h", "i"}));
  json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  t = post("/tokenize", {{"messages", messages}}).json_body();
  EXPECT_EQ(t["count"], chat_prompt_len(messages));
  json d = post("/detokenize", {{"tokens", {1, 104, 105}}}).json_body();
  EXPECT_EQ(d["prompt"], "hi");
}

TEST_F(ServerTest, CorsHeadersAndPreflight) {
  HttpResult r = get("/v1/models");
  EXPECT_EQ(r.header("access-control-allow-origin"), "*");
  HttpResult p = http_call(port_, "OPTIONS", "/v1/chat/completions", "",
                           {{"Origin", "http://example.com"},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.header("access-control-allow-origin"), "*");
  EXPECT_NE(p.header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(p.header("access-control-allow-headers"), "authorization, content-type");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpConnection c(port_);
  for (int i = 0; i < 3; ++i) {
    HttpResult r = c.request("POST", "/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 2}}.dump());
    EXPECT_EQ(r.status, 200);
    HttpResult s = c.request("POST", "/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 2}, {"stream", true}}.dump());
    EXPECT_EQ(s.events().back(), "[DONE]");
  }
  EXPECT_EQ(c.request("GET", "/health").status, 200);
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimReply) {
  // curl sends "Expect: 100-continue" for larger bodies and waits for "100 Continue" before the body.
  namespace net = boost::asio;
  HttpConnection c(port_);
  std::string body = json{{"prompt", "hi"}, {"max_tokens", 2}}.dump();
  std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  net::write(c.socket(), net::buffer(head));
  std::string interim;
  char ch;
  while (interim.find("\r\n\r\n") == std::string::npos) {
    net::read(c.socket(), net::buffer(&ch, 1));
    interim += ch;
  }
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  net::write(c.socket(), net::buffer(body));
  boost::beast::flat_buffer buf;
  boost::beast::http::response<boost::beast::http::string_body> res;
  boost::beast::http::read(c.socket(), buf, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body())["choices"][0]["text"], mock_text(3, 2));
}

class AuthTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerConfig c = test_config();
    c.http.api_keys = {"sekrit", "other"};
    start(c);
  }
};

TEST_F(AuthTest, V1RoutesNeedTheKey) {
  HttpResult r = get("/v1/models");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json_body()["error"]["code"], 401);
  EXPECT_EQ(r.json_body()["error"]["message"], "Unauthorized");
  EXPECT_EQ(r.header("access-control-allow-origin"), "*");
  EXPECT_EQ(http_call(port_, "GET", "/v1/models", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(http_call(port_, "GET", "/v1/models", "", {{"Authorization", "sekrit"}}).status, 401);
  EXPECT_EQ(http_call(port_, "GET", "/v1/models", "", {{"Authorization", "Bearer sekrit"}}).status, 200);
  EXPECT_EQ(http_call(port_, "GET", "/v1/models", "", {{"Authorization", "Bearer other"}}).status, 200);
  EXPECT_EQ(post("/v1/completions", {{"prompt", "x"}}).status, 401);
  EXPECT_TRUE(engine_.submitted().empty());
}

TEST_F(AuthTest, NonV1RoutesAndPreflightAreOpen) {
  EXPECT_EQ(get("/health").status, 200);
  EXPECT_EQ(get("/version").status, 200);
  EXPECT_EQ(get("/metrics").status, 200);
  EXPECT_EQ(post("/tokenize", {{"prompt", "x"}}).status, 200);
  EXPECT_EQ(http_call(port_, "OPTIONS", "/v1/models").status, 200);
}

}  // namespace
}  // namespace serval::test
