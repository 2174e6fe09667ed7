// ApiError: an HTTP status plus an OpenAI-style error body {"error":{"message","type","param","code"}}
// with vLLM's type names (BadRequestError, NotFoundError, ...). Routes throw it; the router renders it.
#pragma once

#include <stdexcept>
#include <string>

namespace serval {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = {})
      : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }  // empty -> null in JSON

 private:
  int status_;
  std::string type_;
  std::string param_;
};

// 400 BadRequestError naming the offending field.
ApiError bad_request(const std::string& message, const std::string& param = {});
// 404 NotFoundError.
ApiError not_found(const std::string& message);

// {"error":{"message":...,"type":...,"param":...|null,"code":status}} serialized (never throws on bad UTF-8).
std::string error_body(int status, const std::string& type, const std::string& message,
                       const std::string& param = {});
std::string error_body(const ApiError& e);

}  // namespace serval
