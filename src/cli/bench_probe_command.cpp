// `serval bench probe`: cold vs warm time to first token against a running server, or (--server-cmd) a
// server it starts itself, timing start-up too (see bench/probe.h).
#include <cstdio>
#include <memory>

#include "bench/probe.h"
#include "bench/report.h"
#include "cli/commands.h"
#include "core/error.h"

namespace serval::cli {

void add_bench_probe_command(CLI::App& bench) {
  struct Flags {
    bench::ProbeConfig probe;
    bench::LaunchConfig launch;
    std::string save_result;
    std::string output = "text";
  };
  auto f = std::make_shared<Flags>();
  bench::ProbeConfig& p = f->probe;
  bench::BenchConfig& c = p.base;
  c.timeout_s = 120;
  CLI::App* cmd = bench.add_subcommand("probe", "Cold vs warm TTFT: a never-seen prompt, then the same prompt again");
  cmd->add_option("--base-url", c.base_url, "Server URL, http://host:port")->capture_default_str();
  cmd->add_option("--endpoint", c.endpoint, "/v1/completions or /v1/chat/completions")->capture_default_str();
  cmd->add_option("--model", c.model, "Model name sent in each request")->required();
  cmd->add_option("--num-probes", p.num_probes, "Cold/warm pairs")->capture_default_str();
  cmd->add_option("--warm-repeats", p.warm_repeats, "Warm requests after each cold one")->capture_default_str();
  cmd->add_option("--prompt-len", p.prompt_len, "Prompt tokens (approximate)")->capture_default_str();
  cmd->add_option("--max-tokens", p.max_tokens, "Output tokens per request")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed for the prompt text")->capture_default_str();
  cmd->add_option("--api-key", c.api_key, "Bearer token")->envname("OPENAI_API_KEY");
  cmd->add_option("--timeout", c.timeout_s, "Per-request timeout in seconds (0 = none)")->capture_default_str();
  cmd->add_option("--server-cmd", f->launch.server_cmd,
                  "Start the server with this shell command, time it to /health 200, probe it, stop it");
  cmd->add_option("--num-warm", f->launch.num_warm, "With --server-cmd: warm requests after the first")
      ->capture_default_str();
  cmd->add_option("--ready-timeout", f->launch.ready_timeout_s, "With --server-cmd: seconds to wait for /health 200")
      ->capture_default_str();
  cmd->add_option("--server-log", f->launch.log_path,
                  "With --server-cmd: file for the server's output (default: in the temp directory)");
  cmd->add_option("--stop-grace", f->launch.stop_grace_s, "With --server-cmd: seconds from SIGINT to SIGKILL")
      ->capture_default_str();
  cmd->add_option("--save-result", f->save_result, "Write the results as JSON to this file");
  cmd->add_option("-o,--output", f->output, "text or json (on stdout)")->capture_default_str();
  cmd->callback([f] {
    check(f->output == "text" || f->output == "json", "-o must be text or json, got '" + f->output + "'");
    if (!f->launch.server_cmd.empty()) {
      const bench::LaunchProbeResult r = bench::run_launched_probe(f->probe, f->launch);
      const nlohmann::ordered_json j = bench::launched_probe_json(r, f->probe, f->launch);
      std::fputs(f->output == "json" ? (j.dump(2) + "\n").c_str() : bench::format_launched_probe(r).c_str(), stdout);
      std::fflush(stdout);
      if (!f->save_result.empty()) bench::save_json(f->save_result, j);
      check(r.completed > 0, "all " + std::to_string(r.failed) + " probe requests failed (first error: " +
                                 (r.errors.empty() ? std::string("none") : r.errors.front().first) + ")");
      return;
    }
    const bench::ProbeResult r = bench::run_probe(f->probe);
    const nlohmann::ordered_json j = bench::probe_json(r, f->probe);
    std::fputs(f->output == "json" ? (j.dump(2) + "\n").c_str() : bench::format_probe(r).c_str(), stdout);
    std::fflush(stdout);
    if (!f->save_result.empty()) bench::save_json(f->save_result, j);
    check(r.completed > 0, "all " + std::to_string(r.failed) + " probe requests failed (first error: " +
                               (r.errors.empty() ? std::string("none") : r.errors.front().first) + ")");
  });
}

}  // namespace serval::cli
