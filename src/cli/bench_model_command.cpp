// `serval bench model MODEL_DIR -p 128 -n 32`: prefill and decode tokens/s of the forward pass alone,
// printed the way llama-bench prints them, with the achieved weight-read GB/s and GFLOP/s next to the
// machine's bounds, measured at start: read bandwidth (kernels/cpu/roofline.h) and the peak FLOP/s of the
// matrix instruction the prefill kernel issues.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/cpu/roofline.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "planner/capacity.h"

namespace serval::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Stat {
  double mean = 0, stddev = 0;
};

Stat summarize(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

// One forward of `n` tokens of one sequence starting at position `start`.
void run_step(Model& model, KvCache& kv, const std::vector<int32_t>& tokens, int start, int n,
              const std::vector<int32_t>& block_table, ModelOutput& out) {
  ModelInputs in;
  in.token_ids.assign(tokens.begin() + start, tokens.begin() + start + n);
  in.positions.resize(static_cast<size_t>(n));
  std::iota(in.positions.begin(), in.positions.end(), start);
  SeqSlice seq;
  seq.token_begin = 0;
  seq.num_tokens = n;
  seq.num_computed = start;
  seq.block_table = block_table;
  in.seqs = {seq};
  in.logit_rows = {n - 1};
  model.forward(in, kv, out);
}

std::string weights_label(const Model& m) {
  const std::string dtype(dtype_name(m.dtype()));
  switch (m.quantization()) {
    case cpu::LinearFormat::Int8: return "int8 (" + dtype + ")";
    case cpu::LinearFormat::Int4: return "int4 (" + dtype + ")";
    default: return dtype;
  }
}

std::string model_label(const Model& m) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %.2fB %s", m.config().model_type.c_str(),
                static_cast<double>(m.num_parameters()) / 1e9, weights_label(m).c_str());
  return buf;
}

}  // namespace

void add_bench_model_command(CLI::App& bench) {
  struct Options {
    std::string model_dir;
    int prompt_tokens = 128;
    int gen_tokens = 32;
    int threads = 0;
    int reps = 5;
    std::string dtype = "auto";
    std::string quantization;
    std::string output = "md";
    bool probe = true;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand("model", "Prefill and decode speed of a model (like llama-bench)");
  cmd->add_option("model_dir", opts->model_dir, "Hugging Face model directory")->required();
  cmd->add_option("-p,--n-prompt", opts->prompt_tokens, "Prompt tokens for the prefill test (0 = skip)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("-n,--n-gen", opts->gen_tokens, "Tokens for the decode test (0 = skip)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("-t,--threads", opts->threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("-r,--repetitions", opts->reps, "Repetitions of each test")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--dtype", opts->dtype, "auto, bfloat16, float16 or float32");
  cmd->add_option("--quantization", opts->quantization, "Quantize weights at load: int8 or int4 (default: none)");
  cmd->add_flag("!--no-probe", opts->probe, "Skip measuring read bandwidth and peak FLOP/s (no % of bounds)");
  cmd->add_option("-o,--output", opts->output, "md or json")->check(CLI::IsMember({"md", "json"}));
  cmd->callback([opts] {
    set_num_threads(opts->threads);
    const int num_threads = global_thread_pool().num_threads();
    parse_quantization(opts->quantization);  // a bad value fails before the probes
    // The bounds, before the model is loaded so the probe's buffer is not competing for memory.
    cpu::BandwidthProbe bw;
    if (opts->probe) bw = cpu::measure_read_bandwidth(global_thread_pool());
    std::unique_ptr<Model> model =
        Model::load(opts->model_dir, LoadOptions{.dtype = opts->dtype, .quantization = opts->quantization});
    cpu::PeakProbe peak;
    if (opts->probe) peak = cpu::measure_peak_flops(active_isa(), model->dtype(), model->quantization(), global_thread_pool());
    const ModelConfig& cfg = model->config();
    const int block_size = 16;
    const int max_len = std::max(opts->prompt_tokens, opts->gen_tokens) + 1;
    check(max_len <= cfg.max_position_embeddings || cfg.max_position_embeddings == 0,
          "-p/-n exceed the model's max_position_embeddings (" + std::to_string(cfg.max_position_embeddings) + ")");
    const int num_blocks = (max_len + block_size - 1) / block_size;
    KvCache kv(model->kv_cache_shape(num_blocks, block_size));
    std::vector<int32_t> block_table(static_cast<size_t>(num_blocks));
    std::iota(block_table.begin(), block_table.end(), 0);
    std::mt19937 rng(42);
    std::vector<int32_t> tokens(static_cast<size_t>(max_len));
    for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(cfg.vocab_size));
    ModelOutput out;

    // Decode streams every linear's weights (as stored) once per step; FLOPs are 2 x parameters per token.
    const double weight_gb = static_cast<double>(model->decode_read_bytes()) / 1e9;
    const double params = static_cast<double>(model->num_parameters());
    struct Row {
      std::string test;
      Stat tps;
      double gbps = 0, gflops = 0;
    };
    std::vector<Row> rows;
    if (opts->prompt_tokens > 0) {
      const int p = opts->prompt_tokens;
      run_step(*model, kv, tokens, 0, p, block_table, out);  // warm-up
      std::vector<double> tps;
      for (int r = 0; r < opts->reps; ++r) {
        auto t0 = Clock::now();
        run_step(*model, kv, tokens, 0, p, block_table, out);
        tps.push_back(p / std::chrono::duration<double>(Clock::now() - t0).count());
      }
      Row row{"pp" + std::to_string(p), summarize(tps)};
      row.gflops = 2.0 * params * row.tps.mean / 1e9;
      row.gbps = weight_gb * row.tps.mean / p;
      rows.push_back(row);
    }
    if (opts->gen_tokens > 0) {
      const int n = opts->gen_tokens;
      run_step(*model, kv, tokens, 0, 1, block_table, out);  // warm-up
      std::vector<double> tps;
      for (int r = 0; r < opts->reps; ++r) {
        auto t0 = Clock::now();
        for (int i = 0; i < n; ++i) run_step(*model, kv, tokens, i, 1, block_table, out);
        tps.push_back(n / std::chrono::duration<double>(Clock::now() - t0).count());
      }
      Row row{"tg" + std::to_string(n), summarize(tps)};
      row.gbps = weight_gb * row.tps.mean;
      row.gflops = 2.0 * params * row.tps.mean / 1e9;
      rows.push_back(row);
    }

    const auto pct = [](double v, double bound) { return bound > 0 ? 100.0 * v / bound : 0.0; };
    const std::string label = model_label(*model);
    const std::string backend = "CPU (" + isa_name(active_isa()) + ")";
    if (opts->output == "json") {
      nlohmann::json j = nlohmann::json::array();
      for (const Row& r : rows)
        j.push_back({{"model", label},
                     {"model_dir", opts->model_dir},
                     {"dtype", std::string(dtype_name(model->dtype()))},
                     {"quantization", opts->quantization.empty() ? "none" : opts->quantization},
                     {"weights_bytes", model->weight_bytes()},
                     {"decode_read_bytes", model->decode_read_bytes()},
                     {"params", params},
                     {"backend", backend},
                     {"cpu", cpu_features().model_name},
                     {"threads", num_threads},
                     {"test", r.test},
                     {"avg_ts", r.tps.mean},
                     {"stddev_ts", r.tps.stddev},
                     {"weights_gbps", r.gbps},
                     {"gflops", r.gflops},
                     {"read_bandwidth_gbps", bw.gbps},
                     {"pct_of_bandwidth", pct(r.gbps, bw.gbps)},
                     {"peak_gflops", peak.gflops},
                     {"peak_instruction", peak.instruction},
                     {"pct_of_peak", pct(r.gflops, peak.gflops)}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    if (opts->probe)
      std::printf("bounds: read bandwidth %.1f GB/s (%d threads, %.1f GiB, best of %d); peak %.0f GFLOP/s (%s, %d "
                  "threads)\n\n",
                  bw.gbps, num_threads, static_cast<double>(bw.bytes) / (1 << 30), bw.passes, peak.gflops,
                  peak.instruction.c_str(), num_threads);
    std::printf("| model | size | params | backend | threads | test | t/s | weights GB/s | %% of BW | GFLOP/s | %% of peak |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const Row& r : rows)
      std::printf("| %s | %s | %.2f B | %s | %d | %s | %.2f ± %.2f | %.1f | %.0f%% | %.1f | %.1f%% |\n", label.c_str(),
                  format_gib(static_cast<double>(model->weight_bytes())).c_str(), params / 1e9, backend.c_str(),
                  num_threads, r.test.c_str(), r.tps.mean, r.tps.stddev, r.gbps, pct(r.gbps, bw.gbps), r.gflops,
                  pct(r.gflops, peak.gflops));
  });
}

}  // namespace serval::cli
