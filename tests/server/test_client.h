// A small synchronous HTTP client (Beast) and an ApiServer fixture with the MockEngine and a fake
// tokenizer/template, shared by the server tests.
#pragma once

#include <gtest/gtest.h>

#include <utility>  // NOTE: before Asio: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/api_server.h"
#include "server/mock_engine.h"

namespace serval::test {

using json = nlohmann::json;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  json json_body() const { return json::parse(body); }
  // The JSON payloads of an SSE body's "data: " events; "[DONE]" comes back as the string "[DONE]".
  std::vector<json> events() const {
    std::vector<json> out;
    size_t pos = 0;
    while ((pos = body.find("data: ", pos)) != std::string::npos) {
      size_t end = body.find("\n\n", pos);
      std::string payload = body.substr(pos + 6, end - pos - 6);
      out.push_back(payload == "[DONE]" ? json("[DONE]") : json::parse(payload));
      pos = end;
    }
    return out;
  }
};

// One connection; several requests may be sent on it (keep-alive).
class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port) : socket_(ioc_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read(socket_, buffer_, parser);
    HttpResult r;
    auto res = parser.release();
    r.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = res.body();
    return r;
  }

  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

inline HttpResult http_call(uint16_t port, const std::string& method, const std::string& target,
                            const std::string& body = "",
                            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  HttpConnection c(port);
  return c.request(method, target, body, headers);
}

// Fake chat template: "<|role|>content\n" per message, then "<|assistant|>" when asked.
inline std::string fake_chat_template(const json& messages, const json& tools, bool add_generation_prompt) {
  std::string s;
  for (const auto& m : messages)
    s += "<|" + m["role"].get<std::string>() + "|>" + (m["content"].is_string() ? m["content"].get<std::string>() : "") +
         "\n";
  if (add_generation_prompt) s += "<|assistant|>";
  return s;
}

inline ModelHooks fake_hooks(bool with_template = true) {
  ModelHooks h;
  h.encode = fake_encode;
  h.decode = fake_decode;
  if (with_template) h.apply_chat_template = fake_chat_template;
  h.vocab_size = 256;
  return h;
}

inline ServerConfig test_config() {
  ServerConfig c;
  c.http.host = "127.0.0.1";
  c.http.port = 0;
  c.http.max_body_bytes = 64 * 1024;
  c.served_model_names = {"test-model", "alias"};
  c.model_root = "/models/test";
  c.max_model_len = 128;
  return c;
}

// The text the mock produces for a prompt of prompt_len ids: n chars from token_char.
inline std::string mock_text(size_t prompt_len, int n, uint64_t seed = 0) {
  std::string s;
  for (int k = 0; k < n; ++k) s += MockEngine::token_char(seed, prompt_len, k);
  return s;
}

// Polls pred until it holds or the (generous) timeout passes; returns whether it held. For state that has
// no notification to wait on, such as the server's in-flight count after the client already has its bytes.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerConfig config = test_config(), ModelHooks hooks = fake_hooks()) {
    server_ = std::make_unique<ApiServer>(std::move(config), engine_, std::move(hooks));
    server_->start();
    port_ = server_->port();
  }
  void SetUp() override { start(); }
  void TearDown() override {
    if (server_) server_->stop_gracefully(std::chrono::milliseconds(0));
    server_.reset();
  }
  HttpResult post(const std::string& target, const json& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return http_call(port_, "POST", target, body.dump(), headers);
  }
  HttpResult get(const std::string& target) { return http_call(port_, "GET", target); }

  MockEngine engine_;
  std::unique_ptr<ApiServer> server_;
  uint16_t port_ = 0;
};

}  // namespace serval::test
