// HttpServer: the HTTP/1.1 transport under the OpenAI API — listener, keep-alive sessions, body limit,
// CORS, API-key check, chunked streaming, client-disconnect detection and graceful shutdown.
// Routes see only HttpRequest/HttpExchange; Beast stays inside http_server.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace serval {

struct HttpServerConfig {
  std::string host = "0.0.0.0";           // address or host name to bind
  uint16_t port = 8000;                   // 0 = pick an ephemeral port (HttpServer::port() tells which)
  int num_io_threads = 2;                 // threads running the one io_context (no thread per connection)
  size_t max_body_bytes = 32u << 20;      // larger request bodies get 413
  std::vector<std::string> api_keys;      // non-empty: /v1/* needs "Authorization: Bearer <one of them>"
  std::string allowed_origin = "*";       // Access-Control-Allow-Origin on every response
  std::chrono::seconds idle_timeout{60};  // keep-alive connections idle this long are closed
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/models?x=1"
  std::string path;    // target without the query string
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Value of the first header with this name (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
};

// Lets another thread (the engine's) hand work to the I/O loop: after close(), run_if_open does nothing,
// so callbacks that outlive the server never touch its io_context.
class PostGate {
 public:
  template <class F>
  bool run_if_open(F&& f) {
    std::lock_guard lock(mu_);
    if (!open_) return false;
    f();
    return true;
  }
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }

 private:
  std::mutex mu_;
  bool open_ = true;
};

namespace detail {
class Session;
}

// One request/response on a connection. Every method must run on the exchange's strand: inside the
// handler call, or inside a function given to post(). After the response is complete or the client
// has gone, the response methods do nothing.
class HttpExchange {
 public:
  HttpExchange(std::shared_ptr<detail::Session> session, HttpRequest request);

  const HttpRequest& request() const { return request_; }

  // Whole response. extra_headers are added as given.
  void respond(int status, const std::string& content_type, std::string body,
               const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  // 200 with chunked transfer encoding; then send_chunk()* and end_stream().
  void begin_stream(const std::string& content_type);
  void send_chunk(std::string data);
  void end_stream();

  // Called once if the client disconnects (or the server force-closes) before the response is complete.
  void on_close(std::function<void()> callback) { on_close_ = std::move(callback); }
  // Keeps route state alive until the exchange ends (released then, so it may not point back here forever).
  void attach(std::shared_ptr<void> state) { attachment_ = std::move(state); }
  // Runs fn on this exchange's strand (from any thread; guard it with gate() if the caller may outlive the server).
  void post(std::function<void()> fn);
  const std::shared_ptr<PostGate>& gate() const;
  bool finished() const { return finished_; }  // response complete or client gone

 private:
  friend class detail::Session;
  std::shared_ptr<detail::Session> session_;
  HttpRequest request_;
  std::function<void()> on_close_;
  std::shared_ptr<void> attachment_;
  bool finished_ = false;
  bool streaming_ = false;
};

using HttpHandler = std::function<void(const std::shared_ptr<HttpExchange>&)>;

class HttpServer {
 public:
  HttpServer(HttpServerConfig config, HttpHandler handler);
  ~HttpServer();  // stops with no grace if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Throws serval::Error naming host:port if it cannot bind.
  void start();
  uint16_t port() const;  // the bound port (useful with port 0)
  // Stops accepting, closes idle connections, waits up to `grace` for in-flight exchanges to complete,
  // then force-closes the rest (their on_close callbacks run) and joins the I/O threads.
  void stop_gracefully(std::chrono::milliseconds grace);
  int num_active_exchanges() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace serval
