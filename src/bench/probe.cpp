// bench probe (see probe.h).
#include "bench/probe.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "bench/datasets/dataset.h"
#include "bench/http_get.h"
#include "bench/run_bench.h"
#include "bench/stream_client.h"
#include "core/error.h"

namespace serval::bench {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t fresh_nonce() {
  return std::random_device{}() ^
         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

nlohmann::ordered_json stats_json(const Distribution& d) {
  nlohmann::ordered_json j;
  j["count"] = d.count;
  j["mean"] = d.mean;
  j["median"] = d.median;
  for (const auto& [p, v] : d.percentiles) j[percentile_key(p)] = v;
  j["min"] = d.min;
  j["max"] = d.max;
  j["spread"] = d.max - d.min;
  return j;
}

std::vector<std::pair<std::string, int>> sorted_errors(const std::map<std::string, int>& errors) {
  std::vector<std::pair<std::string, int>> out(errors.begin(), errors.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string tail_lines(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.pop_front();
  }
  std::string out;
  for (const std::string& line : lines) out += "  | " + line + "\n";
  return out.empty() ? "  (log is empty)\n" : out;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The server under test: `/bin/sh -c CMD` in its own process group, output to a log file. The
// destructor kills the group if stop() was never reached (an exception on the way).
// NOTE: hand-written on posix_spawn/waitpid: no installed library spawns into a process group with
// output redirection and a graceful SIGINT -> SIGKILL stop.
class ServerProcess {
 public:
  ServerProcess(const std::string& command, const std::string& log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    // The shell survives SIGINT (a trap, unlike an ignore, is reset in its children) and so exits with
    // the server's own status once the server has drained.
    const std::string script = "trap : INT; " + command;
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    const int rc = posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    check(rc == 0, "cannot start the server command '" + command + "': " + std::strerror(rc));
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  // True once the shell (and so, for a simple command, the server itself) has exited.
  bool exited() {
    if (!reaped_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        exit_code_ = exit_code_of(status);
      }
    }
    return reaped_;
  }
  int exit_code() const { return exit_code_; }

  // SIGINT to the whole group, then SIGKILL after grace_s; returns once the group is gone.
  void stop(double grace_s, LaunchProbeResult& r) {
    const auto t0 = std::chrono::steady_clock::now();
    ::kill(-pid_, SIGINT);
    for (;;) {
      const bool group_gone = exited() && ::kill(-pid_, 0) != 0 && errno == ESRCH;
      if (group_gone) break;
      if (seconds_since(t0) > grace_s) {
        ::kill(-pid_, SIGKILL);
        r.server_killed = true;
        if (!reaped_) {
          int status = 0;
          ::waitpid(pid_, &status, 0);
          reaped_ = true;
          exit_code_ = exit_code_of(status);
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.stop_s = seconds_since(t0);
    r.server_exit_code = exit_code_;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

}  // namespace

ProbeResult run_probe(const ProbeConfig& config) {
  check(config.num_probes >= 1, "--num-probes must be >= 1, got " + std::to_string(config.num_probes));
  check(config.warm_repeats >= 1, "--warm-repeats must be >= 1, got " + std::to_string(config.warm_repeats));
  check(config.prompt_len >= 1, "--prompt-len must be >= 1, got " + std::to_string(config.prompt_len));
  check(config.max_tokens >= 1, "--max-tokens must be >= 1, got " + std::to_string(config.max_tokens));
  BenchConfig c = config.base;
  c.num_prompts = config.num_probes;
  c.dataset.spec = "random";
  c.dataset.input_len = config.prompt_len;
  c.dataset.range_ratio = 0;
  c.dataset.max_tokens = config.max_tokens;
  validate(c);

  // A nonce per run and per probe at the very start of the prompt: no earlier run (and no other probe)
  // shares even the first block, so the cold request cannot hit the prefix cache.
  const uint64_t nonce = fresh_nonce();
  std::vector<BenchSample> samples = load_samples(c.dataset, config.num_probes, c.seed, c.token_counter);
  std::vector<ClientRequest> requests;
  BenchSample primer;  // primes the connection (excluded), so no measured request pays for the connect
  primer.prompt = "probe " + hex(nonce) + " connect";
  primer.output_len = 1;
  requests.push_back({request_body(c, primer), 0.0});
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i].prompt = "[probe " + hex(nonce) + "-" + std::to_string(i) + "] " + samples[i].prompt;
    const std::string body = request_body(c, samples[i]);
    for (int k = 0; k <= config.warm_repeats; ++k) requests.push_back({body, 0.0});
  }

  ClientOptions options;
  options.target = parse_http_target(c.base_url, c.endpoint);
  options.api_key = c.api_key;
  options.max_concurrency = 1;  // one at a time, in order (slots are handed out FIFO)
  options.timeout_s = c.timeout_s;
  options.progress_label = "probe";
  const ClientRunResult run = run_streams(options, requests);

  ProbeResult r;
  std::vector<double> cold_e2el, warm_e2el;
  std::map<std::string, int> errors;
  const size_t per_probe = static_cast<size_t>(config.warm_repeats) + 1;
  for (size_t i = 1; i < run.records.size(); ++i) {
    const RequestRecord& rec = run.records[i];
    const bool cold = (i - 1) % per_probe == 0;
    if (!rec.success || rec.first_chunk_s < 0) {
      ++r.failed;
      ++errors[rec.success ? std::string("no content chunk") : rec.error];
      continue;
    }
    ++r.completed;
    const double ttft = (rec.first_chunk_s - rec.start_s) * 1e3;
    const double e2el = (rec.last_chunk_s - rec.start_s) * 1e3;
    (cold ? r.cold_ttfts_ms : r.warm_ttfts_ms).push_back(ttft);
    (cold ? cold_e2el : warm_e2el).push_back(e2el);
  }
  const std::vector<double> percentiles = {50, 95};
  r.cold_ttft_ms = summarize(r.cold_ttfts_ms, percentiles);
  r.warm_ttft_ms = summarize(r.warm_ttfts_ms, percentiles);
  r.cold_e2el_ms = summarize(cold_e2el, percentiles);
  r.warm_e2el_ms = summarize(warm_e2el, percentiles);
  if (r.cold_ttft_ms.count > 0 && r.warm_ttft_ms.count > 0 && r.warm_ttft_ms.median > 0)
    r.ttft_ratio = r.cold_ttft_ms.median / r.warm_ttft_ms.median;
  r.errors = sorted_errors(errors);
  return r;
}

LaunchProbeResult run_launched_probe(const ProbeConfig& config, const LaunchConfig& launch) {
  check(!launch.server_cmd.empty(), "--server-cmd is empty");
  check(launch.num_warm >= 1, "--num-warm must be >= 1, got " + std::to_string(launch.num_warm));
  check(launch.ready_timeout_s > 0, "--ready-timeout must be > 0, got " + std::to_string(launch.ready_timeout_s));
  check(config.prompt_len >= 1, "--prompt-len must be >= 1, got " + std::to_string(config.prompt_len));
  check(config.max_tokens >= 1, "--max-tokens must be >= 1, got " + std::to_string(config.max_tokens));
  BenchConfig c = config.base;
  c.num_prompts = 1;
  c.dataset.spec = "random";
  c.dataset.input_len = config.prompt_len;
  c.dataset.range_ratio = 0;
  c.dataset.max_tokens = config.max_tokens;
  validate(c);
  std::vector<BenchSample> samples = load_samples(c.dataset, 1, c.seed, c.token_counter);
  samples[0].prompt = "[probe " + hex(fresh_nonce()) + "] " + samples[0].prompt;
  const std::string body = request_body(c, samples[0]);
  std::vector<ClientRequest> requests(static_cast<size_t>(launch.num_warm) + 1, ClientRequest{body, 0.0});
  ClientOptions options;
  options.target = parse_http_target(c.base_url, c.endpoint);
  options.api_key = c.api_key;
  options.max_concurrency = 1;
  options.timeout_s = c.timeout_s;
  options.progress_label = "probe";

  LaunchProbeResult r;
  r.log_path = launch.log_path;
  if (r.log_path.empty())
    r.log_path = (std::filesystem::temp_directory_path() / ("serval-probe-server-" + std::to_string(::getpid()) + ".log"))
                     .string();
  const std::string named = "server command '" + launch.server_cmd + "'";
  const auto t0 = std::chrono::steady_clock::now();
  ServerProcess server(launch.server_cmd, r.log_path);
  for (;;) {
    const double remaining = launch.ready_timeout_s - seconds_since(t0);
    if (remaining <= 0) {
      server.stop(launch.stop_grace_s, r);
      throw Error(named + " was not ready (GET /health 200) within " + std::to_string(launch.ready_timeout_s) +
                  " s; last lines of " + r.log_path + ":\n" + tail_lines(r.log_path, 20));
    }
    const HttpGetResult health = http_get(c.base_url, "/health", std::min(remaining, 2.0));
    ++r.health_polls;
    if (health.status == 200) break;
    if (server.exited())
      throw Error(named + " exited with code " + std::to_string(server.exit_code()) +
                  " before it was ready; last lines of " + r.log_path + ":\n" + tail_lines(r.log_path, 20));
    std::this_thread::sleep_for(std::chrono::duration<double>(launch.poll_interval_s));
  }
  r.time_to_ready_s = seconds_since(t0);

  const ClientRunResult run = run_streams(options, requests);
  server.stop(launch.stop_grace_s, r);

  std::map<std::string, int> errors;
  for (size_t i = 0; i < run.records.size(); ++i) {
    const RequestRecord& rec = run.records[i];
    if (!rec.success || rec.first_chunk_s < 0) {
      ++r.failed;
      ++errors[rec.success ? std::string("no content chunk") : rec.error];
      continue;
    }
    ++r.completed;
    const double ttft = (rec.first_chunk_s - rec.start_s) * 1e3;
    const double e2el = (rec.last_chunk_s - rec.start_s) * 1e3;
    if (i == 0) {
      r.cold_ttft_ms = ttft;
      r.cold_e2el_ms = e2el;
    } else {
      r.warm_ttfts_ms.push_back(ttft);
      r.warm_e2els_ms.push_back(e2el);
    }
  }
  const std::vector<double> percentiles = {50, 95};
  r.warm_ttft_ms = summarize(r.warm_ttfts_ms, percentiles);
  r.warm_e2el_ms = summarize(r.warm_e2els_ms, percentiles);
  if (r.cold_ttft_ms > 0 && r.warm_ttft_ms.count > 0 && r.warm_ttft_ms.median > 0)
    r.ttft_ratio = r.cold_ttft_ms / r.warm_ttft_ms.median;
  if (r.cold_e2el_ms > 0 && r.warm_e2el_ms.count > 0 && r.warm_e2el_ms.median > 0)
    r.e2el_ratio = r.cold_e2el_ms / r.warm_e2el_ms.median;
  r.errors = sorted_errors(errors);
  return r;
}

nlohmann::ordered_json launched_probe_json(const LaunchProbeResult& r, const ProbeConfig& config,
                                           const LaunchConfig& launch) {
  nlohmann::ordered_json j;
  j["tool"] = "serval bench probe";
  j["mode"] = "launch";
  j["server_cmd"] = launch.server_cmd;
  j["server_log"] = r.log_path;
  j["base_url"] = config.base.base_url;
  j["endpoint"] = config.base.endpoint;
  j["model_id"] = config.base.model;
  j["num_warm"] = launch.num_warm;
  j["prompt_len"] = config.prompt_len;
  j["max_tokens"] = config.max_tokens;
  j["time_to_ready_s"] = r.time_to_ready_s;
  j["health_polls"] = r.health_polls;
  j["completed"] = r.completed;
  j["failed"] = r.failed;
  j["cold_ttft_ms"] = r.cold_ttft_ms;
  j["cold_e2el_ms"] = r.cold_e2el_ms;
  j["warm_ttft_ms"] = stats_json(r.warm_ttft_ms);
  j["warm_e2el_ms"] = stats_json(r.warm_e2el_ms);
  j["ttft_cold_warm_ratio"] = r.ttft_ratio;
  j["e2el_cold_warm_ratio"] = r.e2el_ratio;
  j["warm_ttfts_ms"] = r.warm_ttfts_ms;
  j["warm_e2els_ms"] = r.warm_e2els_ms;
  j["server_exit_code"] = r.server_exit_code;
  j["server_killed"] = r.server_killed;
  j["server_stop_s"] = r.stop_s;
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const auto& [message, count] : r.errors) errors.push_back({{"message", message}, {"count", count}});
  j["errors"] = errors;
  return j;
}

std::string format_launched_probe(const LaunchProbeResult& r) {
  char buf[320];
  std::string out = "=========== Cold start vs warm ===========\n";
  std::snprintf(buf, sizeof buf, "time to ready (start -> /health 200): %.3f s (%d polls)\n", r.time_to_ready_s,
                r.health_polls);
  out += buf;
  std::snprintf(buf, sizeof buf, "cold (first request)  TTFT %9.2f ms  E2EL %9.2f ms\n", r.cold_ttft_ms,
                r.cold_e2el_ms);
  out += buf;
  auto line = [&](const char* name, const Distribution& d) {
    std::snprintf(buf, sizeof buf, "%-10s n=%-4zu min %9.2f  median %9.2f  max %9.2f  spread %9.2f ms\n", name,
                  d.count, d.min, d.median, d.max, d.max - d.min);
    out += buf;
  };
  line("warm TTFT", r.warm_ttft_ms);
  line("warm E2EL", r.warm_e2el_ms);
  std::snprintf(buf, sizeof buf,
                "cold/warm ratio: TTFT %.2fx  E2EL %.2fx (cold / warm median)\nfailed requests: %d\n"
                "server stopped in %.3f s, exit code %d%s; log: %s\n",
                r.ttft_ratio, r.e2el_ratio, r.failed, r.stop_s, r.server_exit_code,
                r.server_killed ? " (SIGKILL after grace)" : "", r.log_path.c_str());
  out += buf;
  for (const auto& [message, count] : r.errors) out += "  " + std::to_string(count) + " x " + message + "\n";
  return out;
}

nlohmann::ordered_json probe_json(const ProbeResult& r, const ProbeConfig& config) {
  const auto& stats = stats_json;
  nlohmann::ordered_json j;
  j["tool"] = "serval bench probe";
  j["base_url"] = config.base.base_url;
  j["endpoint"] = config.base.endpoint;
  j["model_id"] = config.base.model;
  j["num_probes"] = config.num_probes;
  j["warm_repeats"] = config.warm_repeats;
  j["prompt_len"] = config.prompt_len;
  j["max_tokens"] = config.max_tokens;
  j["completed"] = r.completed;
  j["failed"] = r.failed;
  j["cold_ttft_ms"] = stats(r.cold_ttft_ms);
  j["warm_ttft_ms"] = stats(r.warm_ttft_ms);
  j["cold_e2el_ms"] = stats(r.cold_e2el_ms);
  j["warm_e2el_ms"] = stats(r.warm_e2el_ms);
  j["ttft_cold_warm_ratio"] = r.ttft_ratio;
  j["cold_ttfts_ms"] = r.cold_ttfts_ms;
  j["warm_ttfts_ms"] = r.warm_ttfts_ms;
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const auto& [message, count] : r.errors) errors.push_back({{"message", message}, {"count", count}});
  j["errors"] = errors;
  return j;
}

std::string format_probe(const ProbeResult& r) {
  char buf[256];
  std::string out = "=========== Cold vs warm TTFT ===========\n";
  auto line = [&](const char* name, const Distribution& d) {
    double p95 = 0;
    for (const auto& [p, v] : d.percentiles)
      if (p == 95) p95 = v;
    std::snprintf(buf, sizeof buf, "%-10s n=%-4zu p50 %9.2f ms  p95 %9.2f ms  min %9.2f  max %9.2f\n", name, d.count,
                  d.median, p95, d.min, d.max);
    out += buf;
  };
  line("cold TTFT", r.cold_ttft_ms);
  line("warm TTFT", r.warm_ttft_ms);
  line("cold E2EL", r.cold_e2el_ms);
  line("warm E2EL", r.warm_e2el_ms);
  std::snprintf(buf, sizeof buf, "TTFT cold/warm ratio (p50): %.2fx\nfailed requests: %d\n", r.ttft_ratio, r.failed);
  out += buf;
  for (const auto& [message, count] : r.errors) out += "  " + std::to_string(count) + " x " + message + "\n";
  return out;
}

}  // namespace serval::bench
