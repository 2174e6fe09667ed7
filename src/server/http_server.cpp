// NOTE: Boost.Beast because it is the well-kept HTTP/1.1 parser/serializer on Asio, header-only in our
// Boost 1.74: one io_context and a few threads serve every connection asynchronously, and chunked
// writes give SSE streaming without a thread per connection (cpp-httplib-style servers block one).
#include "server/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <list>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "server/api_errors.h"

namespace serval {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Compares without an early exit so the time taken does not reveal how much of the key matched.
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned diff = a.size() != b.size() ? 1u : 0u;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

constexpr size_t kMaxWatchBuffer = 1u << 20;  // stop watching for disconnects if a client pipelines this much
constexpr auto kLingerTimeout = std::chrono::seconds(2);
}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

// NOTE: member order matters: the io_context is destroyed before the mutex and lists that the
// sessions it still owns touch in their destructors, and after the acceptor and threads that use it.
struct HttpServer::Impl {
  HttpServerConfig config;
  HttpHandler handler;
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();
  std::atomic<bool> draining{false};
  uint16_t port = 0;
  bool running = false;

  mutable std::mutex mu;
  std::condition_variable cv;
  int active = 0;  // exchanges read but not yet complete
  std::list<std::weak_ptr<detail::Session>> sessions;

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;

  void do_accept();
  void exchange_started() {
    std::lock_guard lock(mu);
    ++active;
  }
  void exchange_ended() {
    std::lock_guard lock(mu);
    --active;
    cv.notify_all();
  }
};

namespace detail {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {}

  ~Session() {
    std::lock_guard lock(server_.mu);
    server_.cv.notify_all();
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  // Runs on the strand: close the connection if it is between requests.
  void close_if_idle() {
    if (!current_ && !closed_) {
      closed_ = true;
      beast::error_code ec;
      stream_.socket().close(ec);
    }
  }

  // Runs on the strand: drop the connection now; an unfinished exchange gets its on_close.
  void force_close() {
    if (closed_) {  // lingering after a response: just drop it
      beast::error_code ignored;
      stream_.socket().close(ignored);
      return;
    }
    client_gone();
  }

  net::any_io_executor executor() { return stream_.get_executor(); }
  const std::shared_ptr<PostGate>& gate() const { return server_.gate; }

  void respond(HttpExchange* ex, int status, const std::string& content_type, std::string body,
               const std::vector<std::pair<std::string, std::string>>& extra) {
    if (!owns(ex) || ex->streaming_) return;
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), version_);
    res->set(http::field::server, "serval");
    if (!content_type.empty()) res->set(http::field::content_type, content_type);
    set_cors(*res);
    for (const auto& [k, v] : extra) res->set(k, v);
    res->keep_alive(keep_alive_ && !server_.draining);
    res->body() = std::move(body);
    res->prepare_payload();
    ex->finished_ = true;
    Out o;
    o.kind = Out::Full;
    o.keep_alive = res->keep_alive();
    o.full = std::move(res);
    enqueue(std::move(o));
  }

  void begin_stream(HttpExchange* ex, const std::string& content_type) {
    if (!owns(ex) || ex->streaming_) return;
    ex->streaming_ = true;
    Out o;
    o.kind = Out::Header;
    o.head = std::make_shared<http::response<http::empty_body>>(http::status::ok, version_);
    o.head->set(http::field::server, "serval");
    o.head->set(http::field::content_type, content_type);
    o.head->set(http::field::cache_control, "no-cache");
    set_cors(*o.head);
    o.head->keep_alive(keep_alive_ && !server_.draining);
    o.head->chunked(true);
    o.keep_alive = o.head->keep_alive();
    o.serializer = std::make_shared<http::response_serializer<http::empty_body>>(*o.head);
    stream_keep_alive_ = o.keep_alive;
    enqueue(std::move(o));
  }

  void send_chunk(HttpExchange* ex, std::string data) {
    if (!owns(ex) || !ex->streaming_ || data.empty()) return;
    Out o;
    o.kind = Out::Chunk;
    o.data = std::move(data);
    enqueue(std::move(o));
  }

  void end_stream(HttpExchange* ex) {
    if (!owns(ex) || !ex->streaming_) return;
    ex->finished_ = true;
    Out o;
    o.kind = Out::Last;
    o.keep_alive = stream_keep_alive_;
    enqueue(std::move(o));
  }

 private:
  struct Out {
    enum Kind { Full, Header, Chunk, Last } kind = Full;
    bool keep_alive = true;
    std::shared_ptr<http::response<http::string_body>> full;
    std::shared_ptr<http::response<http::empty_body>> head;
    std::shared_ptr<http::response_serializer<http::empty_body>> serializer;
    std::string data;
  };

  bool owns(HttpExchange* ex) const { return !closed_ && current_.get() == ex && !ex->finished_; }

  template <class Res>
  void set_cors(Res& res) {
    res.set(http::field::access_control_allow_origin, server_.config.allowed_origin);
  }

  void do_read() {
    if (closed_) return;
    if (server_.draining) {
      close_if_idle();
      return;
    }
    parser_.emplace();
    parser_->body_limit(server_.config.max_body_bytes);
    stream_.expires_after(server_.config.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // curl sends "Expect: 100-continue" for bodies over 1 KiB and waits a second for this interim reply.
  void on_header(beast::error_code ec) {
    if (ec || closed_) {
      on_read(ec);
      return;
    }
    const auto expect = parser_->get()[http::field::expect];
    if (iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue), [self = shared_from_this()](beast::error_code ec2, size_t) {
        if (ec2) self->on_read(ec2);
        else self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    stream_.expires_never();
    if (closed_) return;
    if (ec == http::error::body_limit) {
      reply_and_close(413, "PayloadTooLargeError",
                      "request body is larger than the limit of " + std::to_string(server_.config.max_body_bytes) +
                          " bytes");
      return;
    }
    const bool framing_error = ec && ec.category() == make_error_code(http::error::bad_target).category() &&
                               ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (framing_error) {
      reply_and_close(400, "BadRequestError", "malformed HTTP request: " + ec.message());
      return;
    }
    if (ec) {  // peer closed, reset or idle timeout
      closed_ = true;
      beast::error_code ignored;
      stream_.socket().close(ignored);
      return;
    }
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();

    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.path = r.target.substr(0, r.target.find('?'));
    for (const auto& field : req) r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    r.body = std::move(req.body());

    current_ = std::make_shared<HttpExchange>(shared_from_this(), std::move(r));
    server_.exchange_started();
    start_watch();
    dispatch(current_);
  }

  void dispatch(const std::shared_ptr<HttpExchange>& ex) {
    const HttpRequest& r = ex->request();
    if (server_.draining) {
      keep_alive_ = false;
      respond(ex.get(), 503, "application/json",
              error_body(503, "ServiceUnavailableError", "the server is shutting down"), {});
      return;
    }
    if (r.method == "OPTIONS") {  // CORS preflight: always open, no auth
      std::string req_headers = r.header("Access-Control-Request-Headers");
      respond(ex.get(), 200, "", "",
              {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
               {"Access-Control-Allow-Headers", req_headers.empty() ? "*" : req_headers},
               {"Access-Control-Max-Age", "600"}});
      return;
    }
    if (!server_.config.api_keys.empty() && r.path.rfind("/v1", 0) == 0 && !authorized(r)) {
      respond(ex.get(), 401, "application/json", error_body(401, "AuthenticationError", "Unauthorized"),
              {{"WWW-Authenticate", "Bearer"}});
      return;
    }
    try {
      server_.handler(ex);
    } catch (const ApiError& e) {
      respond(ex.get(), e.status(), "application/json", error_body(e), {});
    } catch (const std::exception& e) {
      respond(ex.get(), 500, "application/json", error_body(500, "InternalServerError", e.what()), {});
    }
  }

  bool authorized(const HttpRequest& r) const {
    std::string auth = r.header("Authorization");
    if (auth.size() < 7 || !iequals(auth.substr(0, 7), "Bearer ")) return false;
    std::string_view token = std::string_view(auth).substr(7);
    bool ok = false;
    for (const auto& key : server_.config.api_keys) ok |= constant_time_equal(token, key);
    return ok;
  }

  // Error before any exchange exists (bad framing, body too large): answer, then close after draining input.
  void reply_and_close(int status, const std::string& type, const std::string& message) {
    keep_alive_ = false;
    current_ = std::make_shared<HttpExchange>(shared_from_this(), HttpRequest{});
    server_.exchange_started();
    respond(current_.get(), status, "application/json", error_body(status, type, message), {});
  }

  // While a request is in flight, keep one read pending: it completes with an error when the client goes away.
  void start_watch() {
    if (watching_ || closed_ || buffer_.size() >= kMaxWatchBuffer || !keep_alive_) return;
    watching_ = true;
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->on_watch(ec, n);
    });
  }

  void on_watch(beast::error_code ec, size_t n) {
    watching_ = false;
    if (closed_) {
      if (lingering_) linger_read();
      return;
    }
    if (!ec) {
      buffer_.commit(n);  // pipelined bytes: kept for the next request
      if (current_) start_watch();
      else do_read();
      return;
    }
    if (ec == net::error::operation_aborted) {
      if (!current_) do_read();
      return;
    }
    client_gone();
  }

  void enqueue(Out o) {
    out_.push_back(std::move(o));
    pump();
  }

  void pump() {
    if (writing_ || out_.empty() || closed_) return;
    writing_ = true;
    Out& o = out_.front();
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); };
    switch (o.kind) {
      case Out::Full: http::async_write(stream_, *o.full, done); break;
      case Out::Header: http::async_write_header(stream_, *o.serializer, done); break;
      case Out::Chunk: net::async_write(stream_, http::make_chunk(net::buffer(o.data)), done); break;
      case Out::Last: net::async_write(stream_, http::make_chunk_last(), done); break;
    }
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (closed_) {
      out_.clear();
      return;
    }
    if (ec) {
      client_gone();
      return;
    }
    Out o = std::move(out_.front());
    out_.pop_front();
    if (o.kind == Out::Full || o.kind == Out::Last) {
      end_exchange();
      if (!o.keep_alive) {
        linger_close();
        return;
      }
      if (watching_) stream_.socket().cancel();  // the watch handler then starts the next read
      else do_read();
      return;
    }
    pump();
  }

  void end_exchange() {
    if (!current_) return;
    current_->finished_ = true;
    current_->on_close_ = nullptr;
    current_->attachment_.reset();
    current_.reset();
    server_.exchange_ended();
  }

  void client_gone() {
    if (closed_) return;
    closed_ = true;
    if (current_) {
      auto ex = current_;
      ex->finished_ = true;
      auto cb = std::move(ex->on_close_);
      ex->on_close_ = nullptr;
      if (cb) cb();
      end_exchange();
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    if (!writing_) out_.clear();
  }

  // Half-close, then read and discard until the peer closes, so it sees our response rather than a reset.
  void linger_close() {
    closed_ = true;
    lingering_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (watching_) stream_.socket().cancel();  // on_watch continues with linger_read()
    else linger_read();
  }

  void linger_read() {
    stream_.expires_after(kLingerTimeout);
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        beast::error_code ignored;
        self->stream_.socket().close(ignored);
        return;
      }
      self->linger_read();
    });
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpExchange> current_;
  std::deque<Out> out_;
  char discard_[4096];
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool stream_keep_alive_ = true;
  bool writing_ = false;
  bool watching_ = false;
  bool closed_ = false;
  bool lingering_ = false;
};

}  // namespace detail

HttpExchange::HttpExchange(std::shared_ptr<detail::Session> session, HttpRequest request)
    : session_(std::move(session)), request_(std::move(request)) {}

void HttpExchange::respond(int status, const std::string& content_type, std::string body,
                           const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  session_->respond(this, status, content_type, std::move(body), extra_headers);
}
void HttpExchange::begin_stream(const std::string& content_type) { session_->begin_stream(this, content_type); }
void HttpExchange::send_chunk(std::string data) { session_->send_chunk(this, std::move(data)); }
void HttpExchange::end_stream() { session_->end_stream(this); }
void HttpExchange::post(std::function<void()> fn) { net::post(session_->executor(), std::move(fn)); }
const std::shared_ptr<PostGate>& HttpExchange::gate() const { return session_->gate(); }

void HttpServer::Impl::do_accept() {
  acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      do_accept();  // e.g. too many open files: keep serving the connections we have
      return;
    }
    // SSE chunks are small writes that must leave at once: without TCP_NODELAY, Nagle holds each one back
    // until the previous is acknowledged (~40 ms with delayed ACKs), which would show up as TTFT and ITL.
    beast::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    auto session = std::make_shared<detail::Session>(std::move(socket), *this);
    {
      std::lock_guard lock(mu);
      sessions.remove_if([](const auto& w) { return w.expired(); });
      sessions.push_back(session);
    }
    session->start();
    do_accept();
  });
}

HttpServer::HttpServer(HttpServerConfig config, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() {
  if (impl_->running) stop_gracefully(std::chrono::milliseconds(0));
}

void HttpServer::start() {
  Impl& s = *impl_;
  const std::string where = s.config.host + ":" + std::to_string(s.config.port);
  beast::error_code ec;
  tcp::resolver resolver(s.ioc);
  auto results = resolver.resolve(s.config.host, std::to_string(s.config.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  check(!ec && !results.empty(), "cannot resolve server host " + where + ": " + ec.message());
  tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.emplace(net::make_strand(s.ioc));
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  check(!ec, "cannot listen on " + where + ": " + ec.message());
  s.port = s.acceptor->local_endpoint().port();
  s.work.emplace(s.ioc.get_executor());
  net::dispatch(s.acceptor->get_executor(), [&s] { s.do_accept(); });
  int n = std::max(1, s.config.num_io_threads);
  for (int i = 0; i < n; ++i) {
    s.threads.emplace_back([&s] {
      for (;;) {  // a handler that throws must not take the server down with it
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("HTTP I/O thread: unexpected exception: {}", e.what());
        }
      }
    });
  }
  s.running = true;
}

uint16_t HttpServer::port() const { return impl_->port; }

int HttpServer::num_active_exchanges() const {
  std::lock_guard lock(impl_->mu);
  return impl_->active;
}

void HttpServer::stop_gracefully(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.running) return;
  s.running = false;
  s.draining = true;
  net::post(s.acceptor->get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor->close(ignored);
  });
  auto for_each_session = [&s](auto fn) {
    std::vector<std::shared_ptr<detail::Session>> live;
    {
      std::lock_guard lock(s.mu);
      for (auto& w : s.sessions)
        if (auto p = w.lock()) live.push_back(std::move(p));
    }
    for (auto& p : live) net::post(p->executor(), [p, fn] { fn(*p); });
  };
  for_each_session([](detail::Session& session) { session.close_if_idle(); });
  {
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, grace, [&s] { return s.active == 0; });
  }
  for_each_session([](detail::Session& session) { session.force_close(); });
  {
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, std::chrono::seconds(5), [&s] {
      for (auto& w : s.sessions)
        if (!w.expired()) return false;
      return s.active == 0;
    });
  }
  s.gate->close();
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace serval
