// Routes of the OpenAI-compatible API: /v1/completions, /v1/chat/completions, /v1/models, /tokenize,
// /detokenize, /health, /version, /metrics. Parses and validates, tokenizes, then hands generation to
// GenerationJob. Errors are thrown as ApiError and rendered as OpenAI error JSON.
#pragma once

#include <chrono>
#include <memory>

#include "engine/engine_client.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/server_config.h"

namespace serval {

// Everything a route needs; lives as long as the ApiServer.
struct ApiContext {
  ApiContext(ServerConfig c, EngineClient& e, ModelHooks h);

  ServerConfig config;
  EngineClient& engine;
  ModelHooks hooks;
  MetricsRegistry metrics;
  int64_t started_at;  // unix seconds, "created" of /v1/models

  const std::string& model_name() const { return config.served_model_names.front(); }
};

// Dispatches one request (on its strand). Throws ApiError for the caller to render.
void handle_request(ApiContext& ctx, const std::shared_ptr<HttpExchange>& exchange);

}  // namespace serval
