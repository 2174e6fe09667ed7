// Read-bandwidth and peak-FLOP/s probes (see roofline.h). Each ISA loop is compiled for its own target
// with a function attribute and called only when cpu_features() has that ISA.
// NOTE: hand-written because no packaged library measures these the way our kernels run (same thread
// pool, same instruction); /work/shared/peers/membw.c does the same outside the tree.
#include "kernels/cpu/roofline.h"

#include <immintrin.h>
#include <sys/mman.h>

#if defined(__GNUC__) && !defined(__clang__)
// NOTE: GCC 12 reports -W(maybe-)uninitialized inside its own intrinsics (the _mm*_undefined_* pass-through
// operand of the AVX-512 reductions) once they are inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace serval::cpu {

namespace {

using Clock = std::chrono::steady_clock;

__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint8_t* p, size_t bytes) {
  __m512i acc[8];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (size_t i = 0; i + 512 <= bytes; i += 512)
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm512_add_epi64(acc[j], _mm512_load_si512(reinterpret_cast<const __m512i*>(p + i + 64 * j)));
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi64(acc[0], acc[j]);
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(acc[0]));
}

__attribute__((target("avx2"))) uint64_t sum_avx2(const uint8_t* p, size_t bytes) {
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (size_t i = 0; i + 256 <= bytes; i += 256)
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_add_epi64(acc[j], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32 * j)));
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi64(acc[0], acc[j]);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_scalar(const uint8_t* p, size_t bytes) {
  uint64_t acc[8] = {};
  for (size_t i = 0; i + 64 <= bytes; i += 64)
    for (int j = 0; j < 8; ++j) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * j, 8);
      acc[j] += v;
    }
  uint64_t s = 0;
  for (uint64_t a : acc) s += a;
  return s;
}

// ---- peak loops: `iters` iterations of independent accumulator chains; returns instructions issued ----

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16,avx512f"))) double loop_amx_bf16(int64_t iters) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  alignas(64) static const uint16_t ones[16 * 32] = {};
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, ones, 64);
  _tile_loadd(6, ones, 64);
  _tile_loadd(7, ones, 64);
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float out[16 * 16];
  _tile_stored(0, out, 64);
  _tile_release();
  volatile float sink = out[0];
  (void)sink;
  return 4.0 * static_cast<double>(iters);
}

// 16 independent accumulator chains of one instruction, `iters` times (a macro: lambdas would not inherit
// the enclosing function's target attribute).
#define SERVAL_CHAINS(V, INIT, STEP)                                                  \
  V acc[16];                                                                          \
  for (auto& c : acc) c = INIT;                                                       \
  for (int64_t i = 0; i < iters; ++i)                                                 \
    for (auto& c : acc) c = STEP;                                                     \
  char any = 0;                                                                       \
  for (const auto& c : acc) any = static_cast<char>(any ^ reinterpret_cast<const char*>(&c)[0]); \
  volatile char sink = any;                                                           \
  (void)sink;                                                                         \
  return 16.0 * static_cast<double>(iters)

__attribute__((target("avx512f,avx512bf16"))) double loop_avx512_bf16(int64_t iters) {
  const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80));
  SERVAL_CHAINS(__m512, _mm512_setzero_ps(), _mm512_dpbf16_ps(c, a, a));
}

__attribute__((target("avx512f,avx512vnni"))) double loop_avx512_vnni(int64_t iters) {
  const __m512i a = _mm512_set1_epi8(1);
  SERVAL_CHAINS(__m512i, _mm512_setzero_si512(), _mm512_dpbusd_epi32(c, a, a));
}

__attribute__((target("avx512f"))) double loop_avx512_fma(int64_t iters) {
  const __m512 a = _mm512_set1_ps(1.0f);
  SERVAL_CHAINS(__m512, _mm512_setzero_ps(), _mm512_fmadd_ps(a, a, c));
}

__attribute__((target("avx2,fma"))) double loop_avx2_fma(int64_t iters) {
  const __m256 a = _mm256_set1_ps(1.0f);
  SERVAL_CHAINS(__m256, _mm256_setzero_ps(), _mm256_fmadd_ps(a, a, c));
}

// The multiply of the AVX2 quantized kernels: vpmaddubsw (32 byte multiply-adds; the kernels' vpmaddwd
// and vpaddd that follow are not counted).
__attribute__((target("avx2"))) double loop_avx2_maddubs(int64_t iters) {
  const __m256i a = _mm256_set1_epi8(1);
  SERVAL_CHAINS(__m256i, _mm256_setzero_si256(), _mm256_maddubs_epi16(a, c));
}

#undef SERVAL_CHAINS

}  // namespace

BandwidthProbe measure_read_bandwidth(ThreadPool& pool, int passes) {
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const size_t bytes = std::max<size_t>(size_t{1} << 30, l3 > 0 ? 2 * static_cast<size_t>(l3) : 0) / 4096 * 4096;
  void* raw = std::aligned_alloc(size_t{2} << 20, bytes);
  if (raw == nullptr) throw Error("bandwidth probe: cannot allocate " + std::to_string(bytes >> 20) + " MiB");
  std::unique_ptr<void, void (*)(void*)> buf(raw, std::free);
  madvise(raw, bytes, MADV_HUGEPAGE);
  const int threads = pool.num_threads();
  auto* p = static_cast<uint8_t*>(raw);
  pool.run([&](int t) {  // first touch by the threads that read it
    const size_t b0 = bytes * static_cast<size_t>(t) / static_cast<size_t>(threads) / 4096 * 4096;
    const size_t b1 = bytes * static_cast<size_t>(t + 1) / static_cast<size_t>(threads) / 4096 * 4096;
    std::memset(p + b0, 1, b1 - b0);
  });
  const CpuFeatures& f = cpu_features();
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  BandwidthProbe probe;
  probe.bytes = bytes;
  probe.passes = passes;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = Clock::now();
    pool.run([&](int t) {
      const size_t b0 = bytes * static_cast<size_t>(t) / static_cast<size_t>(threads) / 4096 * 4096;
      const size_t b1 = bytes * static_cast<size_t>(t + 1) / static_cast<size_t>(threads) / 4096 * 4096;
      sums[static_cast<size_t>(t)] = f.avx512f ? sum_avx512(p + b0, b1 - b0)
                                     : f.avx2  ? sum_avx2(p + b0, b1 - b0)
                                               : sum_scalar(p + b0, b1 - b0);
    });
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    probe.gbps = std::max(probe.gbps, static_cast<double>(bytes) / s / 1e9);
  }
  volatile uint64_t sink = sums[0];
  (void)sink;
  return probe;
}

PeakProbe measure_peak_flops(Isa isa, DType dtype, LinearFormat format, ThreadPool& pool) {
  const bool quant = format != LinearFormat::Native;
  PeakProbe probe;
  double (*loop)(int64_t) = nullptr;
  int64_t iters = 0;
  if (isa == Isa::Amx && (dtype == DType::BF16 || quant)) {
    probe = {"amx-bf16 tdpbf16ps", 2.0 * 16 * 16 * 32, 0};
    loop = loop_amx_bf16;
    iters = 200'000;
  } else if (isa == Isa::Avx512Bf16 && quant && cpu_features().avx512_vnni) {
    probe = {"avx512 vpdpbusd (int8 ops)", 2.0 * 64, 0};
    loop = loop_avx512_vnni;
    iters = 1'000'000;
  } else if (isa == Isa::Avx512Bf16 && dtype == DType::BF16 && !quant) {
    probe = {"avx512 vdpbf16ps", 2.0 * 32, 0};
    loop = loop_avx512_bf16;
    iters = 1'000'000;
  } else if (isa == Isa::Amx || isa == Isa::Avx512Bf16) {
    probe = {"avx512 vfmadd231ps", 2.0 * 16, 0};
    loop = loop_avx512_fma;
    iters = 1'000'000;
  } else if (isa == Isa::Avx2 && quant) {
    probe = {"avx2 vpmaddubsw (int8 ops)", 2.0 * 32, 0};
    loop = loop_avx2_maddubs;
    iters = 500'000;
  } else if (isa == Isa::Avx2) {
    probe = {"avx2 vfmadd231ps", 2.0 * 8, 0};
    loop = loop_avx2_fma;
    iters = 1'000'000;
  } else {
    return {"scalar (no peak)", 0, 0};
  }
  std::vector<double> instructions(static_cast<size_t>(pool.num_threads()));
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    pool.run([&](int t) { instructions[static_cast<size_t>(t)] = loop(iters); });
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    double total = 0;
    for (double v : instructions) total += v;
    probe.gflops = std::max(probe.gflops, total * probe.flops_per_instruction / s / 1e9);
  }
  return probe;
}

}  // namespace serval::cpu
