#include "server/api_server.h"

#include <spdlog/spdlog.h>

#include "server/http_server.h"
#include "server/routes.h"

namespace serval {

ApiServer::ApiServer(ServerConfig config, EngineClient& engine, ModelHooks hooks)
    : ctx_(std::make_unique<ApiContext>(std::move(config), engine, std::move(hooks))) {
  ApiContext* ctx = ctx_.get();
  http_ = std::make_unique<HttpServer>(ctx_->config.http,
                                       [ctx](const std::shared_ptr<HttpExchange>& ex) { handle_request(*ctx, ex); });
}

ApiServer::~ApiServer() { http_.reset(); }

void ApiServer::start() {
  http_->start();
  spdlog::info("serval API server listening on http://{}:{}", ctx_->config.http.host, http_->port());
}

uint16_t ApiServer::port() const { return http_->port(); }

void ApiServer::stop_gracefully(std::chrono::milliseconds grace) {
  int in_flight = http_->num_active_exchanges();
  if (in_flight > 0) spdlog::info("shutting down: waiting up to {} ms for {} in-flight requests", grace.count(), in_flight);
  http_->stop_gracefully(grace);
}

int ApiServer::num_in_flight() const { return http_->num_active_exchanges(); }

}  // namespace serval
