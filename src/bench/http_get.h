// http_get: one blocking HTTP GET with a timeout (libcurl), for /metrics scrapes and /health polls.
#pragma once

#include <string>

namespace serval::bench {

struct HttpGetResult {
  int status = 0;      // 0 when no response arrived (connection refused, timeout)
  std::string body;
  std::string error;   // one line when status == 0
};

// GETs base_url + path (a base URL ending in /v1 has it removed first). Never throws for network errors.
HttpGetResult http_get(const std::string& base_url, const std::string& path, double timeout_s);

}  // namespace serval::bench
