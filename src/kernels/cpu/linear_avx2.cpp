// AVX2 + FMA Linear kernels (compiled with -mavx2 -mfma -mf16c; run only when cpu_features() says so):
// weights of any dtype in the Block16 layout, upconverted to f32 (vcvtph2ps for F16, a shift for BF16).
#include <immintrin.h>

// NOTE: GCC 12 reports -Wmaybe-uninitialized inside its own intrinsics (the _mm*_undefined_* pass-through
// operand of e.g. _mm512_slli_epi32 / _mm512_cvtph_ps) once they are inlined into unrolled templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>

#include "kernels/cpu/linear_packed.h"
#include "kernels/cpu/quant.h"

namespace serval::cpu {

namespace {

template <DType D>
inline __m256 load_w8(const void* base, int64_t idx) {
  if constexpr (D == DType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + idx);
  } else if constexpr (D == DType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + idx)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

inline void store8(float* y, __m256 acc, const float* bias, int64_t ncols) {
  if (ncols <= 0) return;
  if (bias != nullptr) acc = _mm256_add_ps(acc, _mm256_loadu_ps(bias));
  if (ncols >= 8) {
    _mm256_storeu_ps(y, acc);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, acc);
  std::copy(tmp, tmp + ncols, y);
}

// Rows [i0, i0+M) of y for NB consecutive 16-column blocks starting at block b (2 ymm per block).
template <DType D, int M, int NB>
void block16_tile(const PackedWeights& w, const float* x, float* y, int64_t b, int64_t i0, int64_t ncols) {
  const int64_t k = w.k;
  const size_t es = dtype_size(D);
  const auto* base = static_cast<const uint8_t*>(w.data);
  const uint8_t* blk[NB];
  for (int j = 0; j < NB; ++j) blk[j] = base + static_cast<size_t>((b + j) * 16 * k) * es;
  __m256 acc[M][2 * NB];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < 2 * NB; ++j) acc[i][j] = _mm256_setzero_ps();
  const float* xr = x + i0 * k;
  for (int64_t s = 0; s < k; ++s) {
    __m256 wv[2 * NB];
    for (int j = 0; j < NB; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(blk[j]) + (s + 16) * 16 * es, _MM_HINT_T0);
      wv[2 * j] = load_w8<D>(blk[j], s * 16);
      wv[2 * j + 1] = load_w8<D>(blk[j], s * 16 + 8);
    }
    for (int i = 0; i < M; ++i) {
      const __m256 a = _mm256_broadcast_ss(xr + i * k + s);
      for (int j = 0; j < 2 * NB; ++j) acc[i][j] = _mm256_fmadd_ps(wv[j], a, acc[i][j]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < 2 * NB; ++j) {
      const int64_t col = b * 16 + j * 8;
      store8(y + (i0 + i) * w.n + col, acc[i][j], w.bias.empty() ? nullptr : w.bias.data() + col,
             ncols - j * 8);
    }
}

template <DType D>
void run_tile(const PackedWeights& w, const float* x, float* y, int64_t b, int64_t i0, int rows, int nb,
              int64_t ncols) {
  if (nb == 2) {
    switch (rows) {
      case 1: block16_tile<D, 1, 2>(w, x, y, b, i0, ncols); return;
      case 2: block16_tile<D, 2, 2>(w, x, y, b, i0, ncols); return;
      default: break;
    }
  }
  // One block at a time (a 2-block panel with more rows runs as two 1-block passes).
  for (int j = 0; j < nb; ++j) {
    const int64_t c = ncols - j * 16;
    switch (rows) {
      case 1: block16_tile<D, 1, 1>(w, x, y, b + j, i0, c); break;
      case 2: block16_tile<D, 2, 1>(w, x, y, b + j, i0, c); break;
      case 3: block16_tile<D, 3, 1>(w, x, y, b + j, i0, c); break;
      case 4: block16_tile<D, 4, 1>(w, x, y, b + j, i0, c); break;
      case 5: block16_tile<D, 5, 1>(w, x, y, b + j, i0, c); break;
      default: block16_tile<D, 6, 1>(w, x, y, b + j, i0, c); break;
    }
  }
}

template <DType D>
void forward_dtype(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  // Decode (m <= 2): 2-block panels, 4-8 accumulator chains; otherwise 6 rows x 1 block (12 accumulators).
  const int panel = m <= 2 ? 2 : 1;
  const int row_chunk = m <= 2 ? static_cast<int>(m) : 6;
  const int64_t nblocks = w.num_blocks();
  const int64_t npanels = (nblocks + panel - 1) / panel;
  pool.parallel_for_dynamic(npanels, panel_grain(npanels, pool), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p * panel;
      const int nb = static_cast<int>(std::min<int64_t>(panel, nblocks - b));
      const int64_t ncols = std::min<int64_t>(w.n - b * 16, nb * 16);
      for (int64_t i0 = 0; i0 < m; i0 += row_chunk) {
        const int rows = static_cast<int>(std::min<int64_t>(row_chunk, m - i0));
        run_tile<D>(w, x, y, b, i0, rows, nb, ncols);
      }
    }
  });
}

}  // namespace

void forward_avx2(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  if (w.quantized()) {
    forward_quant_avx2(w, x, m, y, pool);
    return;
  }
  switch (w.dtype) {
    case DType::F32: forward_dtype<DType::F32>(w, x, m, y, pool); return;
    case DType::F16: forward_dtype<DType::F16>(w, x, m, y, pool); return;
    case DType::BF16: forward_dtype<DType::BF16>(w, x, m, y, pool); return;
  }
}

}  // namespace serval::cpu
