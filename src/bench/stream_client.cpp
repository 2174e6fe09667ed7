// run_streams: the event-loop client (see stream_client.h).
// NOTE: Boost.Asio/Beast (header-only, C++20 coroutines) rather than libcurl multi: each request is one
// straight-line coroutine (pace -> slot -> connect/reuse -> write -> read SSE), Beast's parser exposes
// chunked bodies incrementally, and the same library serves the scripted test server; with curl multi
// the per-request state machine would be spread over write/socket/timer callbacks.
#include "bench/stream_client.h"

#include <sys/resource.h>
#include <unistd.h>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "bench/sse_parser.h"
#include "core/error.h"

namespace serval::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

HttpTarget parse_http_target(const std::string& base_url, const std::string& endpoint) {
  const std::string scheme = "http://";
  check(base_url.rfind(scheme, 0) == 0, "--base-url '" + base_url + "' must start with http://");
  std::string rest = base_url.substr(scheme.size());
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.size() >= 3 && prefix.compare(prefix.size() - 3, 3, "/v1") == 0 && endpoint.rfind("/v1/", 0) == 0)
    prefix.resize(prefix.size() - 3);  // accept OpenAI-client style base URLs ending in /v1
  HttpTarget t;
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    t.host = authority.substr(0, colon);
    t.port = authority.substr(colon + 1);
  } else {
    t.host = authority;
    t.port = "80";
  }
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  check(!t.host.empty(), "--base-url '" + base_url + "' has no host");
  check(!t.port.empty() && t.port.find_first_not_of("0123456789") == std::string::npos,
        "--base-url '" + base_url + "' has a bad port '" + t.port + "'");
  t.target = prefix + endpoint;
  return t;
}

namespace {

void raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

std::string one_line(std::string_view s, size_t max_len = 200) {
  std::string out(s.substr(0, max_len));
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max_len) out += "...";
  return out;
}

// The message of an OpenAI error body ({"error":{"message":..}}), vLLM's legacy flat one
// ({"object":"error","message":..}), FastAPI's {"detail":..}, or the raw text.
std::string error_body_message(std::string_view body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_object() && e->contains("message") && (*e)["message"].is_string())
        return one_line((*e)["message"].get<std::string>());
      if (e->is_string()) return one_line(e->get<std::string>());
      return one_line(e->dump());
    }
    if (auto m = j.find("message"); m != j.end() && m->is_string()) return one_line(m->get<std::string>());
    if (auto d = j.find("detail"); d != j.end()) return one_line(d->is_string() ? d->get<std::string>() : d->dump());
  }
  return body.empty() ? "(empty body)" : one_line(body);
}

struct Connection {
  explicit Connection(const asio::any_io_executor& ex) : socket(ex) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
};

// FIFO counting semaphore for --max-concurrency: release hands the slot straight to the oldest waiter.
class SlotQueue {
 public:
  SlotQueue(asio::any_io_executor ex, int slots) : ex_(std::move(ex)), free_(slots) {}
  asio::awaitable<void> acquire() {
    if (free_ > 0 && waiters_.empty()) {
      --free_;
      co_return;
    }
    auto waiter = std::make_shared<asio::steady_timer>(ex_, Clock::time_point::max());
    waiters_.push_back(waiter);
    error_code ec;
    co_await waiter->async_wait(asio::redirect_error(asio::use_awaitable, ec));  // cancelled = granted
  }
  void release() {
    if (waiters_.empty()) {
      ++free_;
      return;
    }
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    waiter->cancel();
  }

 private:
  asio::any_io_executor ex_;
  int free_;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

// Shared with the per-request timeout handler, which may run after the request's coroutine is gone.
struct Deadline {
  tcp::socket* socket = nullptr;
  bool fired = false;
};

class Runner {
 public:
  Runner(const ClientOptions& options, const std::vector<ClientRequest>& requests)
      : options_(options),
        requests_(requests),
        slots_(io_.get_executor(), options.max_concurrency > 0 ? options.max_concurrency : 1 << 30) {}

  ClientRunResult run() {
    raise_open_file_limit();
    tcp::resolver resolver(io_);
    error_code ec;
    endpoints_ = resolver.resolve(options_.target.host, options_.target.port, ec);
    check(!ec, "cannot resolve host '" + options_.target.host + "': " + ec.message());
    const bool ipv6 = options_.target.host.find(':') != std::string::npos;
    host_header_ = ipv6 ? "[" + options_.target.host + "]" : options_.target.host;
    if (options_.target.port != "80") host_header_ += ":" + options_.target.port;

    result_.records.resize(requests_.size());
    for (size_t i = 0; i < requests_.size(); ++i) {
      result_.records[i].index = static_cast<int>(i);
      result_.records[i].scheduled_s = requests_[i].scheduled_s;
    }
    const double cpu0 = thread_cpu_seconds();
    t0_ = Clock::now();
    result_.origin_steady_s = std::chrono::duration<double>(t0_.time_since_epoch()).count();
    asio::co_spawn(io_, pace(), asio::detached);
    if (options_.show_progress) asio::co_spawn(io_, progress(), asio::detached);
    io_.run();
    result_.duration_s = last_end_s_;
    result_.client_cpu_s = thread_cpu_seconds() - cpu0;
    return std::move(result_);
  }

 private:
  double now_s() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

  // The pacer: releases request i at t0 + scheduled_s (absolute, so processing time never accumulates).
  asio::awaitable<void> pace() {
    asio::steady_timer timer(io_);
    for (size_t i = 0; i < requests_.size(); ++i) {
      const auto due = t0_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(requests_[i].scheduled_s));
      if (Clock::now() < due) {
        timer.expires_at(due);
        error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      result_.records[i].arrival_s = now_s();
      asio::co_spawn(io_, run_one(i), asio::detached);
    }
  }

  asio::awaitable<void> progress() {
    asio::steady_timer timer(io_);
    const size_t n = requests_.size();
    while (num_finished_ < n) {
      std::fprintf(stderr, "\r%s: %zu/%zu done, %d failed, %d in flight, %.1f s   ", options_.progress_label.c_str(),
                   num_finished_, n, num_failed_, in_flight_, now_s());
      timer.expires_after(std::chrono::milliseconds(250));
      error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    std::fprintf(stderr, "\r%s: %zu/%zu done, %d failed, %.1f s%20s\n", options_.progress_label.c_str(), n, n,
                 num_failed_, now_s(), "");
  }

  asio::awaitable<void> run_one(size_t i) {
    RequestRecord& rec = result_.records[i];
    co_await slots_.acquire();
    rec.start_s = now_s();
    ++in_flight_;
    if (in_flight_ > result_.max_in_flight) result_.max_in_flight = in_flight_;
    try {
      co_await exchange(i, rec);
    } catch (const std::exception& e) {
      rec.success = false;
      rec.error = std::string("client error: ") + e.what();
    }
    rec.end_s = now_s();
    if (!rec.success) ++num_failed_;
    --in_flight_;
    slots_.release();
    if (rec.end_s > last_end_s_) last_end_s_ = rec.end_s;
    ++num_finished_;
  }

  std::unique_ptr<Connection> take_idle() {
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }

  static bool is_stale_connection_error(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
  }

  // One HTTP exchange with at most one retry when a kept-alive connection turns out to be closed.
  asio::awaitable<void> exchange(size_t i, RequestRecord& rec) {
    auto deadline = std::make_shared<Deadline>();
    asio::steady_timer timer(io_);
    if (options_.timeout_s > 0) {
      timer.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.timeout_s)));
      timer.async_wait([deadline](const error_code& ec) {
        if (ec) return;
        deadline->fired = true;
        if (deadline->socket) {
          error_code ignored;
          deadline->socket->close(ignored);
        }
      });
    }
    auto fail = [&](const std::string& message) {
      rec.success = false;
      if (deadline->fired) {
        char text[64];
        std::snprintf(text, sizeof text, "timeout after %g s", options_.timeout_s);
        rec.error = text;
      } else {
        rec.error = message;
      }
    };

    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> conn = take_idle();
      rec.reused_connection = conn != nullptr;
      error_code ec;
      if (!conn) {
        conn = std::make_unique<Connection>(io_.get_executor());
        deadline->socket = &conn->socket;
        ++result_.connections_opened;
        co_await asio::async_connect(conn->socket, endpoints_, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || deadline->fired) {
          fail("connect to " + options_.target.host + ":" + options_.target.port + " failed: " + ec.message());
          break;
        }
        conn->socket.set_option(tcp::no_delay(true), ec);
      }
      deadline->socket = &conn->socket;

      http::request<http::string_body> req{http::verb::post, options_.target.target, 11};
      req.set(http::field::host, host_header_);
      req.set(http::field::user_agent, "serval-bench");
      req.set(http::field::content_type, "application/json");
      req.set(http::field::accept, "text/event-stream");
      if (!options_.api_key.empty()) req.set(http::field::authorization, "Bearer " + options_.api_key);
      req.body() = requests_[i].body;
      req.prepare_payload();
      co_await http::async_write(conn->socket, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec && rec.reused_connection && attempt == 0 && !deadline->fired) continue;
      if (ec) {
        fail("send failed: " + ec.message());
        break;
      }

      http::response_parser<http::string_body> parser;
      // NOTE: not boost::none: Beast 1.74 compares Content-Length against an empty optional as "exceeded".
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      co_await http::async_read_header(conn->socket, conn->buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      if (ec && rec.reused_connection && attempt == 0 && !deadline->fired && is_stale_connection_error(ec)) {
        continue;  // the server closed the idle connection before our request reached it
      }
      if (ec) {
        fail("no response header: " + ec.message());
        break;
      }
      rec.http_status = static_cast<int>(parser.get().result_int());
      if (rec.http_status != 200) {
        co_await http::async_read(conn->socket, conn->buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        fail("HTTP " + std::to_string(rec.http_status) + ": " + error_body_message(parser.get().body()));
        if (!ec && parser.is_done() && parser.keep_alive() && !deadline->fired) {
          deadline->socket = nullptr;
          idle_.push_back(std::move(conn));
        }
        break;
      }
      const bool complete = co_await read_stream(*conn, parser, rec, *deadline, fail);
      deadline->socket = nullptr;
      if (complete && parser.keep_alive()) idle_.push_back(std::move(conn));
      break;
    }
    deadline->socket = nullptr;
    timer.cancel();
  }

  // Reads the SSE body incrementally; returns true when the HTTP response ended cleanly.
  template <typename Fail>
  asio::awaitable<bool> read_stream(Connection& conn, http::response_parser<http::string_body>& parser,
                                    RequestRecord& rec, Deadline& deadline, Fail& fail) {
    SseParser sse;
    double t = 0;
    bool done_seen = false;
    std::string stream_error;
    const bool keep_text = options_.keep_text;
    const SseParser::Handler on_event = [&](std::string_view data) {
      if (done_seen || !stream_error.empty()) return;
      if (data == "[DONE]") {
        done_seen = true;
        return;
      }
      const nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        stream_error = "invalid JSON in SSE event: " + one_line(data, 80);
        return;
      }
      if (j.contains("error") || j.value("object", "") == "error") {
        stream_error = "error event in stream: " + error_body_message(data);
        return;
      }
      if (auto c = j.find("choices"); c != j.end() && c->is_array() && !c->empty()) {
        // vLLM: any event with a non-empty `choices` is a token event, even with empty text.
        if (rec.first_chunk_s < 0) rec.first_chunk_s = t;
        else rec.itl_s.push_back(static_cast<float>(t - rec.last_chunk_s));
        rec.last_chunk_s = t;
        ++rec.num_chunks;
        if (keep_text) {
          const nlohmann::json& choice = (*c)[0];
          if (auto tx = choice.find("text"); tx != choice.end() && tx->is_string()) {
            rec.text += tx->get_ref<const std::string&>();
          } else if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
            if (auto ct = d->find("content"); ct != d->end() && ct->is_string()) rec.text += ct->get_ref<const std::string&>();
          }
        }
      }
      if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
        if (auto p = u->find("prompt_tokens"); p != u->end() && p->is_number_integer()) rec.prompt_tokens = p->get<int>();
        if (auto o = u->find("completion_tokens"); o != u->end() && o->is_number_integer())
          rec.completion_tokens = o->get<int>();
      }
    };

    error_code ec;
    std::string body_head;  // the body's first bytes, to explain a 200 that is not an event stream
    while (!parser.is_done()) {
      co_await http::async_read_some(conn.socket, conn.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      t = now_s();
      std::string& body = parser.get().body();
      if (!body.empty()) {
        if (body_head.size() < 200) body_head.append(body, 0, 200 - body_head.size());
        sse.feed(body, on_event);
        body.clear();
      }
      if (ec || !stream_error.empty()) break;
    }
    const bool clean_end = parser.is_done() && (!ec || ec == http::error::end_of_stream);
    if (clean_end) sse.finish(on_event);

    if (deadline.fired) {
      fail("");
    } else if (!stream_error.empty()) {
      fail(stream_error);
    } else if (!clean_end) {
      fail("stream broken mid-response: " + ec.message());
    } else if (sse.num_events() == 0) {
      fail("HTTP 200 without SSE events (Content-Type: " + std::string(parser.get()[http::field::content_type]) +
           "): " + one_line(body_head, 100));
    } else if (rec.num_chunks == 0) {
      fail("response stream had no choices (never received a first token)");
    } else {
      rec.success = true;
    }
    co_return clean_end && stream_error.empty() && !deadline.fired;
  }

  const ClientOptions& options_;
  const std::vector<ClientRequest>& requests_;
  asio::io_context io_{1};
  SlotQueue slots_;
  tcp::resolver::results_type endpoints_;
  std::string host_header_;  // Host: name[:port]
  std::vector<std::unique_ptr<Connection>> idle_;
  Clock::time_point t0_;
  ClientRunResult result_;
  size_t num_finished_ = 0;
  int num_failed_ = 0;
  int in_flight_ = 0;
  double last_end_s_ = 0;
};

}  // namespace

ClientRunResult run_streams(const ClientOptions& options, const std::vector<ClientRequest>& requests) {
  if (requests.empty()) return {};
  Runner runner(options, requests);
  return runner.run();
}

}  // namespace serval::bench
