// PackedWeights: the load-time layouts of a Linear's weight matrix, and the per-ISA forward entry points
// (each implemented in its own linear_<isa>.cpp, compiled with that ISA's flags). Internal to kernels/cpu.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"

namespace serval::cpu {

// Columns of y (rows of W) per packed block: one 512-bit vector of f32 outputs, one AMX tile's width.
inline constexpr int64_t kBlockN = 16;
// K granularity of the VNNI layout: one AMX BF16 tile row holds 32 bf16 of K.
inline constexpr int64_t kVnniK = 32;

enum class PackLayout : uint8_t {
  // W as stored: [n][k] row-major (scalar path; aliases the checkpoint).
  RowMajor,
  // [n_pad/16][k][16]: for each block of 16 rows, K columns of 16 consecutive-row weights. Elements keep
  // the checkpoint dtype. Used by the f32-FMA paths (AVX2 all dtypes, AVX-512 f32/f16).
  Block16,
  // [n_pad/16][k_pad/2][16][2] bf16: for each 16-row block, K in pairs, each pair row holding
  // (W[n][2p], W[n][2p+1]) for 16 n. This is the AMX BF16 B-tile layout (a tile = 16 pair rows = 1 KiB)
  // and also what one vdpbf16ps with a broadcast x pair consumes. k_pad is a multiple of 32.
  Vnni16,
  // Weight-only int8 / int4 (LinearFormat::Int8 / Int4), see quant.h: for each 16-row block and group of
  // 32 K, the AMX-INT8 / vpdpbusd B layout [8 quads][16 rows][4 K] of unsigned codes (int8: q + 128, 512 B;
  // int4: q + 8 as nibbles, 256 B), plus f16 scales [n_pad/16][k_pad/32][16]. W[n][t] ~= q * scale.
  // Padding rows and columns have q = 0. k_pad is a multiple of 32.
  Int8Vnni,
  Int4Vnni,
};

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

struct PackedWeights {
  Isa isa = Isa::Scalar;
  PackLayout layout = PackLayout::RowMajor;
  DType dtype = DType::F32;  // element type of the stored data
  int64_t n = 0, k = 0;      // logical out_features, in_features
  int64_t n_pad = 0;         // n rounded up to kBlockN (== n for RowMajor)
  int64_t k_pad = 0;         // k rounded up to kVnniK for Vnni16, else k
  const void* data = nullptr;                  // the packed weights (owned below, or the checkpoint's)
  std::unique_ptr<void, AlignedFree> storage;  // owns data when packed
  std::vector<float> bias;                     // [n_pad], zero-padded; empty when the Linear has no bias
  std::unique_ptr<void, AlignedFree> scales;   // Int8Vnni / Int4Vnni only: the f16 group scales

  int64_t num_blocks() const { return n_pad / kBlockN; }
  bool quantized() const { return layout == PackLayout::Int8Vnni || layout == PackLayout::Int4Vnni; }
};

// 64-byte aligned, zero-filled allocation of `bytes`; throws serval::Error when out of memory.
std::unique_ptr<void, AlignedFree> aligned_zeroed(size_t bytes);

// Thread-local scratch that grows and is reused across calls (64-byte aligned).
void* scratch_buffer(int slot, size_t bytes);

// Work-chunk size for ThreadPool::parallel_for_dynamic over n panels: ~8 chunks per thread, so a thread
// slowed by another process on its core hands its remaining work to the others.
inline int64_t panel_grain(int64_t n, const ThreadPool& pool) {
  const int64_t g = n / (static_cast<int64_t>(pool.num_threads()) * 8);
  return g > 0 ? g : 1;
}

// Forward entry points: x [m, k] f32, y [m, n] f32. Each splits its work over `pool`.
void forward_scalar(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);
void forward_avx2(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);
void forward_avx512(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);
void forward_amx(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool);

}  // namespace serval::cpu
