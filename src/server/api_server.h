// ApiServer: the public entry of the OpenAI-compatible HTTP server behind `serval serve`.
//
//   serval::ApiServer server(config, engine, hooks);   // engine: a running EngineClient
//   server.start();                                     // binds config.http.host:port; port 0 = ephemeral
//   ... server.port() ...                               // the bound port
//   server.stop_gracefully(std::chrono::seconds(30));   // on SIGINT/SIGTERM: drain, then return
//
// Routes (vLLM-compatible bodies and errors): POST /v1/completions, POST /v1/chat/completions,
// GET /v1/models, POST /tokenize, POST /detokenize, GET /health, GET /version, GET /metrics.
// Threads: one io_context run by config.http.num_io_threads threads; the engine calls back from its own
// thread and the server posts to the I/O loop. The engine must outlive the server's stop.
#pragma once

#include <chrono>
#include <memory>

#include "engine/engine_client.h"
#include "server/server_config.h"

namespace serval {

struct ApiContext;
class HttpServer;

class ApiServer {
 public:
  // Throws serval::Error on an unusable config (no served name, no tokenizer hooks).
  ApiServer(ServerConfig config, EngineClient& engine, ModelHooks hooks);
  ~ApiServer();  // stops with no grace if still running (in-flight requests are aborted)
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts serving; returns at once. Throws serval::Error naming host:port if binding fails.
  void start();
  uint16_t port() const;
  // Stops accepting new connections and requests, lets in-flight requests finish for up to `grace`,
  // then aborts the rest in the engine (their clients see the connection close) and returns once the
  // I/O threads have stopped. Safe to call twice.
  void stop_gracefully(std::chrono::milliseconds grace);
  // Requests read but not yet answered (for logs and tests).
  int num_in_flight() const;

 private:
  std::unique_ptr<ApiContext> ctx_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace serval
