// AVX-512 Linear kernels (compiled with -mavx512f/bw/vl/bf16; run only when cpu_features() says so):
// BF16 weights in the Vnni16 layout via f32 FMA on upconverted weights for decode rows (m <= 4) and
// vdpbf16ps (x rounded to bf16 once per call) otherwise; F32/F16 weights in the Block16 layout via f32
// FMA. Also the x -> bf16 conversion shared with AMX.
#include <immintrin.h>

// NOTE: GCC 12 reports -Wmaybe-uninitialized inside its own intrinsics (the _mm*_undefined_* pass-through
// operand of e.g. _mm512_slli_epi32 / _mm512_cvtph_ps) once they are inlined into unrolled templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/linear_avx512.h"
#include "kernels/cpu/linear_packed.h"
#include "kernels/cpu/quant.h"

namespace serval::cpu {

namespace {

inline __mmask16 column_mask(int64_t ncols) {
  return ncols >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << ncols) - 1);
}

// Adds bias (or nothing) and stores the first ncols lanes of acc to y.
inline void store_row(float* y, __m512 acc, const float* bias, int64_t ncols) {
  if (bias != nullptr) acc = _mm512_add_ps(acc, _mm512_loadu_ps(bias));
  _mm512_mask_storeu_ps(y, column_mask(ncols), acc);
}

// Rows [i0, i0+M) of y for NB consecutive 16-column blocks starting at block b.
struct Tile {
  int64_t b;      // first block
  int64_t i0;     // first row of x / y
  int64_t ncols;  // valid columns from b*16 on (may end inside the last block)
};

// ---- BF16 weights, Vnni16 layout, vdpbf16ps with bf16 x pairs ----
// xb is [m, k_pad] bf16 (as uint16), row stride k_pad.
template <int M, int NB>
void vnni_dp_tile(const PackedWeights& w, const uint16_t* xb, float* y, const Tile& t) {
  const int64_t pairs = w.k_pad / 2;
  const auto* wd = static_cast<const uint16_t*>(w.data);
  const uint16_t* blk[NB];
  for (int j = 0; j < NB; ++j) blk[j] = wd + (t.b + j) * pairs * 32;
  __m512 acc[M][NB];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_ps();
  const auto* x32 = reinterpret_cast<const int32_t*>(xb + t.i0 * w.k_pad);
  const int64_t ldx = w.k_pad / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    __m512bh wv[NB];
    for (int j = 0; j < NB; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(blk[j] + (p + 32) * 32), _MM_HINT_T0);
      wv[j] = reinterpret_cast<__m512bh>(_mm512_load_si512(blk[j] + p * 32));
    }
    for (int i = 0; i < M; ++i) {
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(x32[i * ldx + p]));
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv[j], xv);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) {
      const int64_t col = (t.b + j) * 16;
      store_row(y + (t.i0 + i) * w.n + col, acc[i][j], w.bias.empty() ? nullptr : w.bias.data() + col,
                t.ncols - j * 16);
    }
}

// ---- BF16 weights, Vnni16 layout, f32 FMA on upconverted weights and f32 x ----
template <int M, int NB>
void vnni_fma_tile(const PackedWeights& w, const float* x, float* y, const Tile& t) {
  const int64_t pairs = w.k_pad / 2, kfull = w.k / 2;
  const auto* wd = static_cast<const uint16_t*>(w.data);
  const uint16_t* blk[NB];
  for (int j = 0; j < NB; ++j) blk[j] = wd + (t.b + j) * pairs * 32;
  __m512 acc[M][NB];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_ps();
  const __m512i hi_mask = _mm512_set1_epi32(static_cast<int32_t>(0xffff0000u));
  const float* xr = x + t.i0 * w.k;
  auto step = [&](int64_t p, const float* xe, const float* xo) {
    __m512 we[NB], wo[NB];
    for (int j = 0; j < NB; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(blk[j] + (p + 32) * 32), _MM_HINT_T0);
      const __m512i v = _mm512_load_si512(blk[j] + p * 32);
      we[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      wo[j] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));
    }
    for (int i = 0; i < M; ++i) {
      const __m512 a = _mm512_set1_ps(xe[i * w.k]);
      const __m512 b = _mm512_set1_ps(xo[i * w.k]);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_fmadd_ps(we[j], a, _mm512_fmadd_ps(wo[j], b, acc[i][j]));
    }
  };
  for (int64_t p = 0; p < kfull; ++p) step(p, xr + 2 * p, xr + 2 * p + 1);
  if (w.k & 1) {  // odd k: the last pair's second weight is zero padding, so only its first element counts
    __m512 we[NB];
    for (int j = 0; j < NB; ++j)
      we[j] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_load_si512(blk[j] + kfull * 32), 16));
    for (int i = 0; i < M; ++i) {
      const __m512 a = _mm512_set1_ps(xr[i * w.k + 2 * kfull]);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_fmadd_ps(we[j], a, acc[i][j]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) {
      const int64_t col = (t.b + j) * 16;
      store_row(y + (t.i0 + i) * w.n + col, acc[i][j], w.bias.empty() ? nullptr : w.bias.data() + col,
                t.ncols - j * 16);
    }
}

// ---- F32 / F16 weights, Block16 layout, f32 FMA ----
template <DType D>
inline __m512 load_w16(const void* base, int64_t idx) {
  if constexpr (D == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + idx);
  } else if constexpr (D == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx)));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType D, int M, int NB>
void block16_tile(const PackedWeights& w, const float* x, float* y, const Tile& t) {
  const int64_t k = w.k;
  __m512 acc[M][NB];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_ps();
  const float* xr = x + t.i0 * k;
  const size_t es = dtype_size(D);
  const auto* base = static_cast<const uint8_t*>(w.data);
  const uint8_t* blk[NB];
  for (int j = 0; j < NB; ++j) blk[j] = base + static_cast<size_t>((t.b + j) * 16 * k) * es;
  for (int64_t s = 0; s < k; ++s) {
    __m512 wv[NB];
    for (int j = 0; j < NB; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(blk[j]) + (s + 16) * 16 * es, _MM_HINT_T0);
      wv[j] = load_w16<D>(blk[j], s * 16);
    }
    for (int i = 0; i < M; ++i) {
      const __m512 a = _mm512_set1_ps(xr[i * k + s]);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_fmadd_ps(wv[j], a, acc[i][j]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NB; ++j) {
      const int64_t col = (t.b + j) * 16;
      store_row(y + (t.i0 + i) * w.n + col, acc[i][j], w.bias.empty() ? nullptr : w.bias.data() + col,
                t.ncols - j * 16);
    }
}

// Picks the compile-time (M, NB) instance for a runtime tile. Kern<M, NB>::run(t) does the work.
template <template <int, int> class Kern, int NBMax, typename... Args>
void dispatch_m_nb(int m, int nb, const Tile& t, Args&&... args) {
  auto with_nb = [&]<int M>() {
    switch (nb) {
      case 1: Kern<M, 1>::run(t, args...); return;
      case 2: if constexpr (NBMax >= 2) Kern<M, 2>::run(t, args...); return;
      case 3: if constexpr (NBMax >= 3) Kern<M, 3>::run(t, args...); return;
      case 4: if constexpr (NBMax >= 4) Kern<M, 4>::run(t, args...); return;
      default: return;
    }
  };
  switch (m) {
    case 1: with_nb.template operator()<1>(); return;
    case 2: with_nb.template operator()<2>(); return;
    case 3: with_nb.template operator()<3>(); return;
    case 4: with_nb.template operator()<4>(); return;
    case 5: with_nb.template operator()<5>(); return;
    case 6: with_nb.template operator()<6>(); return;
    case 7: with_nb.template operator()<7>(); return;
    case 8: with_nb.template operator()<8>(); return;
    default: return;
  }
}

template <int M, int NB>
struct VnniDp {
  static void run(const Tile& t, const PackedWeights& w, const uint16_t* xb, float* y) {
    if constexpr (M * NB <= 24) vnni_dp_tile<M, NB>(w, xb, y, t);
  }
};
template <int M, int NB>
struct VnniFma {
  static void run(const Tile& t, const PackedWeights& w, const float* x, float* y) {
    if constexpr (M * NB <= 16) vnni_fma_tile<M, NB>(w, x, y, t);
  }
};
template <DType D>
struct Block16 {
  template <int M, int NB>
  struct K {
    static void run(const Tile& t, const PackedWeights& w, const float* x, float* y) {
      if constexpr (M * NB <= 24) block16_tile<D, M, NB>(w, x, y, t);
    }
  };
};

// Register blocking: few rows (decode) -> up to 4 column blocks per pass so each weight stream is
// consumed by 4 independent accumulator chains; many rows -> 8 rows x 3 blocks (24 accumulators).
struct Blocking {
  int rows;    // M per tile (last one may be smaller)
  int blocks;  // NB per panel
};
Blocking choose_blocking(int64_t m, int max_acc) {
  if (m <= 4) return {static_cast<int>(m), std::min(4, max_acc / static_cast<int>(m))};
  return max_acc >= 24 ? Blocking{8, 3} : Blocking{8, 2};
}

// Runs fn(Tile, rows, nb) over all (panel, row-chunk) pairs, panels split across threads.
template <typename Fn>
void for_each_tile(const PackedWeights& w, int64_t m, Blocking bk, ThreadPool& pool, Fn&& fn) {
  const int64_t nblocks = w.num_blocks();
  const int64_t npanels = (nblocks + bk.blocks - 1) / bk.blocks;
  pool.parallel_for_dynamic(npanels, panel_grain(npanels, pool), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p * bk.blocks;
      const int nb = static_cast<int>(std::min<int64_t>(bk.blocks, nblocks - b));
      const int64_t ncols = std::min<int64_t>(w.n - b * 16, nb * 16);
      for (int64_t i0 = 0; i0 < m; i0 += bk.rows) {
        const int rows = static_cast<int>(std::min<int64_t>(bk.rows, m - i0));
        fn(Tile{b, i0, ncols}, rows, nb);
      }
    }
  });
}

// Decode rows (m <= kFmaMaxRows) of BF16 weights use f32 FMA on upconverted weights with f32 x: it streams
// weights as fast as vdpbf16ps here (both ~32 GB/s, see docs/PERFORMANCE.md) and skips rounding x to bf16.
// SERVAL_BF16_GEMV=bf16 selects vdpbf16ps for those rows too (to reproduce the comparison).
constexpr int64_t kFmaMaxRows = 4;
bool use_fma_gemv(int64_t m) {
  static const bool dp = [] {
    const char* e = std::getenv("SERVAL_BF16_GEMV");
    return e != nullptr && std::strcmp(e, "bf16") == 0;
  }();
  return !dp && m <= kFmaMaxRows;
}

}  // namespace

void convert_x_bf16_avx512(const float* x, int64_t m, int64_t k, int64_t k_pad, int64_t m_pad, uint16_t* xb) {
  for (int64_t i = 0; i < m; ++i) {
    const float* src = x + i * k;
    uint16_t* dst = xb + i * k_pad;
    for (int64_t t = 0; t < k_pad; t += 32) {
      const int64_t left = k - t;
      const __mmask16 m0 = left >= 16 ? 0xffff : (left > 0 ? static_cast<__mmask16>((1u << left) - 1) : 0);
      const __mmask16 m1 =
          left >= 32 ? 0xffff : (left > 16 ? static_cast<__mmask16>((1u << (left - 16)) - 1) : 0);
      const __m512 lo = _mm512_maskz_loadu_ps(m0, src + t);
      const __m512 hi = _mm512_maskz_loadu_ps(m1, src + t + 16);
      _mm512_storeu_si512(dst + t, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
    }
  }
  if (m_pad > m) std::memset(xb + m * k_pad, 0, static_cast<size_t>((m_pad - m) * k_pad) * 2);
}

void forward_avx512(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  if (w.quantized()) {
    // Every AVX512-BF16 CPU so far (Cooper Lake, Sapphire Rapids, Zen 4) has VNNI; this guards the odd VM
    // that masks it.
    if (cpu_features().avx512_vnni) forward_quant_avx512(w, x, m, y, pool);
    else forward_quant_avx2(w, x, m, y, pool);
    return;
  }
  if (w.layout == PackLayout::Vnni16) {
    if (use_fma_gemv(m)) {
      for_each_tile(w, m, choose_blocking(m, 16), pool,
                    [&](const Tile& t, int rows, int nb) { dispatch_m_nb<VnniFma, 4>(rows, nb, t, w, x, y); });
      return;
    }
    auto* xb = static_cast<uint16_t*>(scratch_buffer(0, static_cast<size_t>(m * w.k_pad) * 2));
    convert_x_bf16_avx512(x, m, w.k, w.k_pad, m, xb);
    for_each_tile(w, m, choose_blocking(m, 24), pool,
                  [&](const Tile& t, int rows, int nb) { dispatch_m_nb<VnniDp, 4>(rows, nb, t, w, xb, y); });
    return;
  }
  const Blocking bk = choose_blocking(m, 24);
  switch (w.dtype) {
    case DType::F32:
      for_each_tile(w, m, bk, pool, [&](const Tile& t, int rows, int nb) {
        dispatch_m_nb<Block16<DType::F32>::K, 4>(rows, nb, t, w, x, y);
      });
      return;
    case DType::F16:
      for_each_tile(w, m, bk, pool, [&](const Tile& t, int rows, int nb) {
        dispatch_m_nb<Block16<DType::F16>::K, 4>(rows, nb, t, w, x, y);
      });
      return;
    case DType::BF16:
      for_each_tile(w, m, bk, pool, [&](const Tile& t, int rows, int nb) {
        dispatch_m_nb<Block16<DType::BF16>::K, 4>(rows, nb, t, w, x, y);
      });
      return;
  }
}

}  // namespace serval::cpu
