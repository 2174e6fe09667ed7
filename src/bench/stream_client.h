// The streaming load client: sends pre-built OpenAI requests on an absolute schedule, under an optional
// concurrency cap, over one pool of kept-alive HTTP/1.1 connections, and records every SSE chunk's time.
#pragma once

#include <string>
#include <vector>

#include "bench/request_record.h"

namespace serval::bench {

struct HttpTarget {
  std::string host;    // name or address, resolved once per run
  std::string port;    // "80" when the URL has none
  std::string target;  // path prefix from the base URL + the endpoint, e.g. /v1/completions
};

// Splits "http://host[:port][/prefix]" + "/v1/completions". Throws serval::Error on a malformed URL.
HttpTarget parse_http_target(const std::string& base_url, const std::string& endpoint);

struct ClientRequest {
  std::string body;          // the JSON request body
  double scheduled_s = 0;    // send offset from the run's start (sorted ascending)
};

struct ClientOptions {
  HttpTarget target;
  std::string api_key;       // Authorization: Bearer, when non-empty
  int max_concurrency = 0;   // 0 = unlimited
  double timeout_s = 600;    // per request, from start to end of stream; 0 = none
  bool keep_text = false;    // keep each request's generated text
  bool show_progress = false;
  std::string progress_label = "bench";
};

struct ClientRunResult {
  std::vector<RequestRecord> records;  // one per request, in request order
  double duration_s = 0;      // schedule origin -> last request ended (vLLM's benchmark duration)
  double origin_steady_s = 0; // the schedule origin on std::chrono::steady_clock (seconds since its epoch)
  double client_cpu_s = 0;    // CPU time (user+sys) of the event-loop thread during the run
  int max_in_flight = 0;      // most requests ever between slot acquired and end
  int connections_opened = 0;
};

// Runs all requests to completion on the calling thread (one event loop; no thread per request) and
// returns what was observed. Never throws for request failures (they are recorded); throws
// serval::Error only when the host cannot be resolved.
ClientRunResult run_streams(const ClientOptions& options, const std::vector<ClientRequest>& requests);

}  // namespace serval::bench
