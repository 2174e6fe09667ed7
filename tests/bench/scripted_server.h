// ScriptedServer (test-only): an OpenAI-style SSE server on 127.0.0.1 (ephemeral port) that answers
// each request per a Script: first-token delay, per-chunk delays and token counts, HTTP errors, error
// events, mid-stream disconnects, stalls, usage chunk. Delays run on absolute deadlines from the moment
// the request was read, so the scripted timings are the truth the client's metrics must reproduce.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace serval::test {

struct ScriptedChunk {
  double delay_s = 0.0;  // after the previous chunk (the first: after the request was read)
  int tokens = 1;        // tokens this chunk carries (words in its text)
};

struct Script {
  int status = 200;                 // != 200: reply with error_body (JSON) and nothing else
  std::string error_body = R"({"error":{"message":"scripted failure","type":"BadRequestError","code":400}})";
  std::vector<ScriptedChunk> chunks;
  bool send_usage = true;
  int prompt_tokens = 7;
  int disconnect_after = -1;        // >= 0: close the socket after this many chunks, mid-stream
  std::string error_event;          // non-empty: after the chunks, send {"error":{"message":error_event}}
  bool send_done = true;
  bool close_after = false;         // send Connection: close
  bool silent_close = false;        // say keep-alive, then close the idle connection anyway
  bool eof_delimited = false;       // no chunked encoding: the body ends when the server closes (HTTP/1.0 style)
  bool json_body = false;           // ignore `stream` and answer 200 with a plain JSON completion
};

// What the server actually did for one request: the truth the client's metrics are compared with
// (the script plus the server's own timer jitter).
struct ServedTiming {
  std::vector<double> chunk_s;  // when each content chunk was handed to the socket (steady_clock seconds)
  int tokens = 0;
};

// Convenience: first chunk after ttft_s, then n-1 chunks every itl_s, one token each.
Script simple_script(double ttft_s, double itl_s, int n, int tokens_per_chunk = 1);

class ScriptedServer {
 public:
  // script(n, body): the script for the n-th request received (0-based) with its parsed JSON body.
  using ScriptFn = std::function<Script(int n, const nlohmann::json& body)>;
  // Answers GET requests (/metrics, /health): target -> (status, text body). GETs never reach the
  // script and are not counted in requests_received(). Without one, GETs get 404.
  using GetFn = std::function<std::pair<int, std::string>(const std::string& target)>;
  explicit ScriptedServer(ScriptFn script, GetFn get = {});
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests_received() const { return received_.load(); }
  int max_active() const { return max_active_.load(); }   // most requests being answered at once
  int connections_accepted() const { return accepted_.load(); }
  // Seconds (steady_clock, from server start) at which each request was read, in arrival order.
  std::vector<double> receive_times() const;
  // One entry per request that sent all its chunks, in completion order.
  std::vector<ServedTiming> served() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> received_{0};
  std::atomic<int> active_{0};
  std::atomic<int> max_active_{0};
  std::atomic<int> accepted_{0};
  mutable std::mutex mutex_;
  std::vector<double> receive_times_;
  std::vector<ServedTiming> served_;
  friend struct Impl;
};

// A port on 127.0.0.1 with nothing listening (bound then closed), for connection-refused tests.
int unused_port();

}  // namespace serval::test
