#include "server/api_errors.h"

#include <nlohmann/json.hpp>

namespace serval {

ApiError bad_request(const std::string& message, const std::string& param) {
  return ApiError(400, "BadRequestError", message, param);
}

ApiError not_found(const std::string& message) { return ApiError(404, "NotFoundError", message); }

std::string error_body(int status, const std::string& type, const std::string& message, const std::string& param) {
  nlohmann::json err = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}};
  if (!param.empty()) err["param"] = param;
  return nlohmann::json{{"error", err}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_body(const ApiError& e) { return error_body(e.status(), e.type(), e.what(), e.param()); }

}  // namespace serval
