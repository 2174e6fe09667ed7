// ScriptedServer implementation: Boost.Asio coroutines, one thread, raw chunked SSE writes.
#include "bench/scripted_server.h"

#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>

namespace serval::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

Script simple_script(double ttft_s, double itl_s, int n, int tokens_per_chunk) {
  Script s;
  for (int i = 0; i < n; ++i) s.chunks.push_back({i == 0 ? ttft_s : itl_s, tokens_per_chunk});
  return s;
}

struct ScriptedServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  Clock::time_point t0 = Clock::now();
  ScriptFn script;
  GetFn get;
  ScriptedServer* owner = nullptr;

  static std::string chunk(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++owner->accepted_;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    boost::beast::flat_buffer buffer;
    asio::steady_timer timer(io);
    for (;;) {
      http::request<http::string_body> req;
      co_await http::async_read(socket, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      if (req.method() == http::verb::get) {
        const auto [status, text] = get ? get(std::string(req.target())) : std::pair<int, std::string>{404, "not found"};
        const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                                  " Scripted\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                                  std::to_string(text.size()) + "\r\nConnection: keep-alive\r\n\r\n" + text;
        co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        continue;
      }
      const Clock::time_point t_req = Clock::now();
      const int n = owner->received_++;
      {
        std::lock_guard<std::mutex> lock(owner->mutex_);
        owner->receive_times_.push_back(std::chrono::duration<double>(t_req - t0).count());
      }
      const int active = ++owner->active_;
      for (int m = owner->max_active_.load(); active > m && !owner->max_active_.compare_exchange_weak(m, active);) {
      }
      const nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
      const Script s = script(n, body);
      const bool chat = req.target().find("chat") != boost::beast::string_view::npos;
      const bool keep = co_await respond(socket, timer, s, chat, n, t_req);
      if (!keep) {
        socket.close(ec);
        co_return;
      }
    }
  }

  asio::awaitable<bool> respond(tcp::socket& socket, asio::steady_timer& timer, const Script& s, bool chat, int n,
                                Clock::time_point t_req) {
    error_code ec;
    // Counted as finished just before the last bytes go out, so a client that sends its next request
    // on receiving them can never be seen overlapping this one.
    bool finished = false;
    auto finish = [&] {
      if (!finished) --owner->active_;
      finished = true;
    };
    const std::string connection = s.close_after ? "close" : "keep-alive";
    if (s.status != 200) {
      finish();
      const std::string head = "HTTP/1.1 " + std::to_string(s.status) +
                               " Scripted\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(s.error_body.size()) + "\r\nConnection: " + connection + "\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(head + s.error_body), asio::redirect_error(asio::use_awaitable, ec));
      co_return !ec && !s.close_after;
    }
    if (s.json_body) {
      finish();
      const std::string body = R"({"id":"cmpl-0","object":"text_completion","choices":[{"index":0,"text":" tok"}]})";
      const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: " + connection + "\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(head + body), asio::redirect_error(asio::use_awaitable, ec));
      co_return !ec && !s.close_after;
    }
    const bool eof = s.eof_delimited;
    const std::string head = eof ? "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                                 : "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: " +
                                       connection + "\r\n\r\n";
    auto frame = [eof](const std::string& data) { return eof ? data : chunk(data); };
    co_await asio::async_write(socket, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      finish();
      co_return false;
    }
    const std::string id = "cmpl-" + std::to_string(n);
    Clock::time_point due = t_req;
    int total_tokens = 0;
    ServedTiming timing;
    for (size_t k = 0; k < s.chunks.size(); ++k) {
      if (s.disconnect_after >= 0 && static_cast<int>(k) == s.disconnect_after) {
        finish();
        co_return false;
      }
      due += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.chunks[k].delay_s));
      timer.expires_at(due);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      std::string text;
      for (int t = 0; t < s.chunks[k].tokens; ++t) text += " tok";
      total_tokens += s.chunks[k].tokens;
      nlohmann::json choice = {{"index", 0}, {"finish_reason", nullptr}};
      if (chat) choice["delta"] = {{"content", text}};
      else choice["text"] = text;
      timing.chunk_s.push_back(std::chrono::duration<double>(Clock::now().time_since_epoch()).count());
      const nlohmann::json event = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
                                    {"choices", nlohmann::json::array({choice})}};
      co_await asio::async_write(socket, asio::buffer(frame("data: " + event.dump() + "\n\n")),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        finish();
        co_return false;
      }
    }
    finish();
    if (s.disconnect_after >= 0) co_return false;
    timing.tokens = total_tokens;
    {
      std::lock_guard<std::mutex> lock(owner->mutex_);
      owner->served_.push_back(std::move(timing));
    }
    std::string tail;
    auto sse = [&](const nlohmann::json& j) { return frame("data: " + j.dump() + "\n\n"); };
    if (!s.error_event.empty())
      tail += sse({{"error", {{"message", s.error_event}, {"type", "InternalServerError"}, {"code", 500}}}});
    if (s.send_usage)
      tail += sse({{"id", id},
                   {"choices", nlohmann::json::array()},
                   {"usage", {{"prompt_tokens", s.prompt_tokens},
                              {"completion_tokens", total_tokens},
                              {"total_tokens", s.prompt_tokens + total_tokens}}}});
    if (s.send_done) tail += frame("data: [DONE]\n\n");
    if (!eof) tail += "0\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(tail), asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && !s.close_after && !s.silent_close && !eof;
  }
};

ScriptedServer::ScriptedServer(ScriptFn script, GetFn get) : impl_(std::make_unique<Impl>()) {
  impl_->script = std::move(script);
  impl_->get = std::move(get);
  impl_->owner = this;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(4096);
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { impl_->io.run(); });
}

ScriptedServer::~ScriptedServer() {
  impl_->io.stop();
  thread_.join();
}

std::vector<double> ScriptedServer::receive_times() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return receive_times_;
}

std::vector<ServedTiming> ScriptedServer::served() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return served_;
}

int unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace serval::test
