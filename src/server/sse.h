// SseStream: Server-Sent Events on an HttpExchange, in OpenAI's framing: "data: {json}\n\n" events and a
// final "data: [DONE]\n\n". Errors after the headers are sent become a data: {"error": ...} event.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http_server.h"

namespace serval {

std::string sse_event(const nlohmann::json& payload);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

class SseStream {
 public:
  explicit SseStream(std::shared_ptr<HttpExchange> exchange) : exchange_(std::move(exchange)) {}

  // Sends the 200 headers (text/event-stream) once.
  void begin();
  void send(const nlohmann::json& payload);
  // data: {"error": {...}} then [DONE], then ends the response.
  void fail(int status, const std::string& type, const std::string& message);
  // data: [DONE], then ends the response.
  void done();
  bool started() const { return started_; }

 private:
  std::shared_ptr<HttpExchange> exchange_;
  bool started_ = false;
};

}  // namespace serval
