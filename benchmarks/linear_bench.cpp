// linear_bench: Linear GEMV (decode) and GEMM (prefill) at Qwen2.5-1.5B shapes per ISA path and weight
// dtype (and int8 / int4 weights), the whole model's decode linears per token, and the memory read-bandwidth
// baseline they are bounded by. Counters: GB/s (weight bytes read), GFLOP/s, tok/s. Run: build/benchmarks/linear_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/cpu/linear.h"

namespace serval::cpu {
namespace {

struct Shape {
  const char* name;
  int64_t n, k;
};
// Qwen2.5-1.5B: hidden 1536, intermediate 8960, 2 KV heads x 128, vocab 151936.
const Shape kShapes[] = {{"q_o", 1536, 1536},   {"k_v", 256, 1536},        {"gate_up", 8960, 1536},
                         {"down", 1536, 8960},  {"lm_head", 151936, 1536}};
constexpr int kNumShapes = sizeof(kShapes) / sizeof(kShapes[0]);
const Isa kIsas[] = {Isa::Amx, Isa::Avx512Bf16, Isa::Avx2, Isa::Scalar};
const DType kDtypes[] = {DType::BF16, DType::F16, DType::F32};

// Working sets of at least this many bytes defeat the (large, shared) last-level cache, so GEMV figures
// measure DRAM like a real forward pass over a 3 GB model does.
constexpr size_t kColdBytes = size_t{1} << 30;

// Random weights in `dtype`, cached per (shape, dtype) so packing many copies shares one source.
const void* source_weights(int shape, DType dtype) {
  static std::unique_ptr<std::vector<uint8_t>> cache[kNumShapes][3];
  auto& slot = cache[shape][static_cast<int>(dtype)];
  if (!slot) {
    const Shape& s = kShapes[shape];
    std::vector<float> f(static_cast<size_t>(s.n * s.k));
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
    for (float& v : f) v = dist(rng);
    slot = std::make_unique<std::vector<uint8_t>>(f.size() * dtype_size(dtype));
    convert_from_f32(dtype, f.data(), slot->data(), f.size());
  }
  return slot->data();
}

std::vector<float> random_activations(int64_t count) {
  std::vector<float> x(static_cast<size_t>(count));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  return x;
}

bool skip_unsupported(benchmark::State& state, Isa isa) {
  if (isa_supported(cpu_features(), isa)) return false;
  state.SkipWithError(("CPU lacks " + isa_name(isa)).c_str());
  return true;
}

// Args: shape, isa, dtype, m. Rotates over copies of the weights totalling >= kColdBytes.
void BM_Gemv(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Isa isa = static_cast<Isa>(state.range(1));
  const DType dtype = static_cast<DType>(state.range(2));
  const int64_t m = state.range(3);
  if (skip_unsupported(state, isa)) return;
  const Shape& s = kShapes[shape];
  const size_t bytes = static_cast<size_t>(s.n * s.k) * dtype_size(dtype);
  const size_t copies = std::max<size_t>(1, (kColdBytes + bytes - 1) / bytes);
  std::vector<Linear> lins;
  for (size_t c = 0; c < copies; ++c)
    lins.push_back(Linear::create(WeightView{dtype, s.n, s.k, source_weights(shape, dtype)}, nullptr, isa));
  const std::vector<float> x = random_activations(m * s.k);
  std::vector<float> y(static_cast<size_t>(m * s.n));
  size_t next = 0;
  for (auto _ : state) {
    lins[next].forward(x.data(), m, y.data());
    next = next + 1 == copies ? 0 : next + 1;
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(iters * static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(iters * 2.0 * static_cast<double>(m * s.n * s.k) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(s.name) + " " + isa_name(isa) + " " + std::string(dtype_name(dtype)));
}

// Args: shape, isa, dtype, m. Weights stay cache-warm (prefill reuses them across all rows anyway).
void BM_Gemm(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Isa isa = static_cast<Isa>(state.range(1));
  const DType dtype = static_cast<DType>(state.range(2));
  const int64_t m = state.range(3);
  if (skip_unsupported(state, isa)) return;
  const Shape& s = kShapes[shape];
  const Linear lin = Linear::create(WeightView{dtype, s.n, s.k, source_weights(shape, dtype)}, nullptr, isa);
  const std::vector<float> x = random_activations(m * s.k);
  std::vector<float> y(static_cast<size_t>(m * s.n));
  for (auto _ : state) {
    lin.forward(x.data(), m, y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(m * s.n * s.k) / 1e9,
      benchmark::Counter::kIsRate);
  state.SetLabel(std::string(s.name) + " " + isa_name(isa) + " " + std::string(dtype_name(dtype)));
}

// The linears of one Qwen2.5-1.5B layer in forward order (shape indices into kShapes).
const int kLayerShapes[] = {0, 1, 1, 0, 2, 2, 3};  // q, k, v, o, gate, up, down
constexpr int kNumLayers = 28;

LinearFormat format_arg(int64_t v) {
  return v == 1 ? LinearFormat::Int8 : v == 2 ? LinearFormat::Int4 : LinearFormat::Native;
}
const char* format_label(LinearFormat f) {
  return f == LinearFormat::Int8 ? "int8" : f == LinearFormat::Int4 ? "int4" : "bf16";
}

// Args: shape, isa, format (1 int8, 2 int4; from BF16), m. Decode-like: rotates over copies of the packed
// weights totalling >= kColdBytes so every call reads DRAM. GB/s counts the quantized bytes (codes + scales).
void BM_QuantGemv(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Isa isa = static_cast<Isa>(state.range(1));
  const LinearFormat format = format_arg(state.range(2));
  const int64_t m = state.range(3);
  if (skip_unsupported(state, isa)) return;
  const Shape& s = kShapes[shape];
  std::vector<Linear> lins;
  lins.push_back(Linear::create(WeightView{DType::BF16, s.n, s.k, source_weights(shape, DType::BF16)}, nullptr, isa, format));
  const size_t bytes = lins[0].weight_bytes();
  const size_t copies = std::max<size_t>(1, (kColdBytes + bytes - 1) / bytes);
  for (size_t c = 1; c < copies; ++c)
    lins.push_back(Linear::create(WeightView{DType::BF16, s.n, s.k, source_weights(shape, DType::BF16)}, nullptr, isa, format));
  const std::vector<float> x = random_activations(m * s.k);
  std::vector<float> y(static_cast<size_t>(m * s.n));
  size_t next = 0;
  for (auto _ : state) {
    lins[next].forward(x.data(), m, y.data());
    next = next + 1 == copies ? 0 : next + 1;
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(iters * static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(iters * 2.0 * static_cast<double>(m * s.n * s.k) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(s.name) + " " + isa_name(isa) + " " + format_label(format));
}

// Args: shape, isa, format, m. Prefill-like: weights cache-warm.
void BM_QuantGemm(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Isa isa = static_cast<Isa>(state.range(1));
  const LinearFormat format = format_arg(state.range(2));
  const int64_t m = state.range(3);
  if (skip_unsupported(state, isa)) return;
  const Shape& s = kShapes[shape];
  const Linear lin =
      Linear::create(WeightView{DType::BF16, s.n, s.k, source_weights(shape, DType::BF16)}, nullptr, isa, format);
  const std::vector<float> x = random_activations(m * s.k);
  std::vector<float> y(static_cast<size_t>(m * s.n));
  for (auto _ : state) {
    lin.forward(x.data(), m, y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(m * s.n * s.k) / 1e9,
      benchmark::Counter::kIsRate);
  state.SetLabel(std::string(s.name) + " " + isa_name(isa) + " " + format_label(format));
}

// Args: isa, m, format (0 native BF16, 1 int8, 2 int4; quantized from BF16; the LM head is int8 under
// both quantized formats, as Model::load does). One iteration = every linear of the model
// (28 layers + lm_head) for m tokens. m = 1 is decode (tok/s is the kernel-only bound on decode speed);
// m = 128 is a prefill chunk.
void BM_Model(benchmark::State& state) {
  const Isa isa = static_cast<Isa>(state.range(0));
  const int64_t m = state.range(1);
  const LinearFormat format = format_arg(state.range(2));
  const LinearFormat head_format = format == LinearFormat::Native ? format : LinearFormat::Int8;
  const bool with_lm_head = m == 1;  // prefill needs the LM head for the last position only
  if (skip_unsupported(state, isa)) return;
  std::vector<Linear> lins;
  std::vector<int> shape_of;
  for (int layer = 0; layer < kNumLayers; ++layer)
    for (int sh : kLayerShapes) {
      lins.push_back(
          Linear::create(WeightView{DType::BF16, kShapes[sh].n, kShapes[sh].k, source_weights(sh, DType::BF16)},
                         nullptr, isa, format));
      shape_of.push_back(sh);
    }
  if (with_lm_head) {
    lins.push_back(Linear::create(
        WeightView{DType::BF16, kShapes[4].n, kShapes[4].k, source_weights(4, DType::BF16)}, nullptr, isa,
        head_format));
    shape_of.push_back(4);
  }
  double bytes = 0, flops = 0;
  for (const Linear& l : lins) {
    bytes += static_cast<double>(l.weight_bytes());
    flops += 2.0 * static_cast<double>(m * l.out_features() * l.in_features());
  }
  const std::vector<float> x = random_activations(m * 8960);
  std::vector<float> y(static_cast<size_t>(m * 151936));
  for (auto _ : state) {
    for (const Linear& l : lins) l.forward(x.data(), m, y.data());
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["tok/s"] = benchmark::Counter(iters * static_cast<double>(m), benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(iters * bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(iters * flops / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string("qwen2.5-1.5b ") + format_label(format) + " " + isa_name(isa) +
                 (with_lm_head ? " +lm_head" : " layers only"));
}

// Args: shape, isa. Load-time cost: packing one BF16 weight matrix for the path (GB/s of checkpoint bytes).
void BM_Pack(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Isa isa = static_cast<Isa>(state.range(1));
  if (skip_unsupported(state, isa)) return;
  const Shape& s = kShapes[shape];
  const void* src = source_weights(shape, DType::BF16);
  for (auto _ : state) {
    Linear lin = Linear::create(WeightView{DType::BF16, s.n, s.k, src}, nullptr, isa);
    benchmark::DoNotOptimize(lin);
  }
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(s.n * s.k * 2) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(s.name) + " " + isa_name(isa));
}

// NOTE: a plain streaming read (sum of 64-bit words, 8 accumulators) is the decode roofline; compiled
// for AVX-512 when the CPU has it so it issues the same load width as the kernels.
__attribute__((target("avx512f"))) uint64_t sum_words_avx512(const uint64_t* p, size_t n) {
  uint64_t acc[8] = {};
  for (size_t i = 0; i < n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  uint64_t s = 0;
  for (uint64_t a : acc) s += a;
  return s;
}
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t acc[8] = {};
  for (size_t i = 0; i < n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  uint64_t s = 0;
  for (uint64_t a : acc) s += a;
  return s;
}

// Args: threads. Reads a 1 GiB buffer split across `threads` threads of a pool.
void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const size_t words = kColdBytes / 8;
  static std::vector<uint64_t> buf(words, 1);
  ThreadPool pool(threads);
  const bool wide = cpu_features().avx512f;
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  for (auto _ : state) {
    pool.run([&](int t) {
      const size_t begin = words * static_cast<size_t>(t) / static_cast<size_t>(threads) / 8 * 8;
      const size_t end = words * static_cast<size_t>(t + 1) / static_cast<size_t>(threads) / 8 * 8;
      sums[static_cast<size_t>(t)] = wide ? sum_words_avx512(buf.data() + begin, end - begin)
                                          : sum_words(buf.data() + begin, end - begin);
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(kColdBytes) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void gemv_args(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < kNumShapes; ++shape)
    for (Isa isa : kIsas) {
      if (isa == Isa::Scalar) continue;  // the reference path; orders of magnitude off, not worth the time
      for (DType d : kDtypes) {
        if (d != DType::BF16 && shape != 2) continue;  // other dtypes: one representative shape
        b->Args({shape, static_cast<int>(isa), static_cast<int>(d), 1});
      }
    }
  for (int64_t m : {2, 4, 8}) b->Args({2, static_cast<int>(Isa::Avx512Bf16), static_cast<int>(DType::BF16), m});
  for (int64_t m : {2, 4, 8}) b->Args({2, static_cast<int>(Isa::Amx), static_cast<int>(DType::BF16), m});
}

void gemm_args(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 4; ++shape)
    for (Isa isa : {Isa::Amx, Isa::Avx512Bf16, Isa::Avx2}) b->Args({shape, static_cast<int>(isa), static_cast<int>(DType::BF16), 128});
  for (int64_t m : {5, 8, 16, 32, 64, 512}) {
    b->Args({2, static_cast<int>(Isa::Amx), static_cast<int>(DType::BF16), m});
    b->Args({2, static_cast<int>(Isa::Avx512Bf16), static_cast<int>(DType::BF16), m});
  }
  for (DType d : {DType::F16, DType::F32})
    for (Isa isa : {Isa::Avx512Bf16, Isa::Avx2}) b->Args({2, static_cast<int>(isa), static_cast<int>(d), 128});
}

BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gemv)->Apply(gemv_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Gemm)->Apply(gemm_args)->UseRealTime()->Unit(benchmark::kMillisecond);
void quant_gemv_args(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < kNumShapes; ++shape)
    for (Isa isa : {Isa::Avx512Bf16, Isa::Avx2})
      for (int f : {1, 2}) b->Args({shape, static_cast<int>(isa), f, 1});
}
void quant_gemm_args(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 4; ++shape)
    for (Isa isa : {Isa::Amx, Isa::Avx512Bf16, Isa::Avx2})
      for (int f : {1, 2}) b->Args({shape, static_cast<int>(isa), f, 128});
  for (int64_t m : {4, 5, 8, 16, 32})
    for (Isa isa : {Isa::Amx, Isa::Avx512Bf16}) b->Args({2, static_cast<int>(isa), 1, m});
}
BENCHMARK(BM_QuantGemv)->Apply(quant_gemv_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QuantGemm)->Apply(quant_gemm_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Pack)
    ->Args({4, static_cast<int>(Isa::Amx)})
    ->Args({4, static_cast<int>(Isa::Avx2)})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Model)
    ->Args({static_cast<int>(Isa::Amx), 1, 0})
    ->Args({static_cast<int>(Isa::Avx512Bf16), 1, 0})
    ->Args({static_cast<int>(Isa::Avx2), 1, 0})
    ->Args({static_cast<int>(Isa::Amx), 128, 0})
    ->Args({static_cast<int>(Isa::Avx512Bf16), 128, 0})
    ->Args({static_cast<int>(Isa::Amx), 1, 1})
    ->Args({static_cast<int>(Isa::Amx), 1, 2})
    ->Args({static_cast<int>(Isa::Avx2), 1, 1})
    ->Args({static_cast<int>(Isa::Avx2), 1, 2})
    ->Args({static_cast<int>(Isa::Amx), 128, 1})
    ->Args({static_cast<int>(Isa::Amx), 128, 2})
    ->Args({static_cast<int>(Isa::Avx512Bf16), 128, 1})
    ->Args({static_cast<int>(Isa::Avx512Bf16), 128, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace serval::cpu

// LINEAR_BENCH_THREADS=N sizes the kernels' pool (default: all cores).
int main(int argc, char** argv) {
  if (const char* t = std::getenv("LINEAR_BENCH_THREADS")) serval::set_num_threads(std::atoi(t));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
