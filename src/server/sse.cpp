#include "server/sse.h"

#include "server/api_errors.h"
#include "server/protocol.h"

namespace serval {

std::string sse_event(const nlohmann::json& payload) { return "data: " + dump_json(payload) + "\n\n"; }

void SseStream::begin() {
  if (started_) return;
  started_ = true;
  exchange_->begin_stream("text/event-stream; charset=utf-8");
}

void SseStream::send(const nlohmann::json& payload) {
  begin();
  exchange_->send_chunk(sse_event(payload));
}

void SseStream::fail(int status, const std::string& type, const std::string& message) {
  begin();
  exchange_->send_chunk("data: " + error_body(status, type, message) + "\n\n");
  done();
}

void SseStream::done() {
  begin();
  exchange_->send_chunk(kSseDone);
  exchange_->end_stream();
}

}  // namespace serval
