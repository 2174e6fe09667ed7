// AMX-BF16 Linear GEMM (compiled with -mamx-tile -mamx-bf16 and AVX-512; run only when the OS granted
// AMX): x rounded to bf16 once per call, 32x32 output blocks from 2x2 tiles over the Vnni16 weights.
// Few rows (decode) go to the AVX-512 kernels, which stream weights at least as fast.
#include <immintrin.h>

// NOTE: GCC 12 reports -Wmaybe-uninitialized inside its own intrinsics (the _mm*_undefined_* pass-through
// operand of e.g. _mm512_slli_epi32 / _mm512_cvtph_ps) once they are inlined into unrolled templates.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/linear_avx512.h"
#include "kernels/cpu/linear_packed.h"

namespace serval::cpu {

namespace {

// Below this many rows the AVX-512 vdpbf16ps kernel is used (measured in benchmarks/linear_bench.cpp).
constexpr int64_t kAmxMinRows = 16;
// K is processed in chunks of this many elements per 32x32 block so that the A rows and the B panel of a
// chunk stay in L2 while every row block of the panel reuses them.
constexpr int64_t kTileK = 32;

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-3: C (2x2 of 16x16 f32); 4-5: A (16 rows x 32 bf16); 6-7: B (16 pair rows x 16 cols x 2).
void configure_tiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// c[MT*16][NT*16] (row stride NT*16 floats) = A rows [16*MT] x B blocks [NT] over k_pad.
template <int MT, int NT>
void amx_block(const uint16_t* a, int64_t lda, const uint16_t* b0, const uint16_t* b1, int64_t k_pad, float* c) {
  _tile_zero(0);
  if constexpr (NT == 2) _tile_zero(1);
  if constexpr (MT == 2) _tile_zero(2);
  if constexpr (MT == 2 && NT == 2) _tile_zero(3);
  const int64_t stride_a = lda * 2;
  for (int64_t kc = 0; kc < k_pad; kc += kTileK) {
    _tile_loadd(4, a + kc, stride_a);
    _tile_loadd(6, b0 + kc * 16, 64);
    if constexpr (NT == 2) _tile_loadd(7, b1 + kc * 16, 64);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NT == 2) _tile_dpbf16ps(1, 4, 7);
    if constexpr (MT == 2) {
      _tile_loadd(5, a + 16 * lda + kc, stride_a);
      _tile_dpbf16ps(2, 5, 6);
      if constexpr (NT == 2) _tile_dpbf16ps(3, 5, 7);
    }
  }
  const int64_t ldc = NT * 16 * 4;
  _tile_stored(0, c, ldc);
  if constexpr (NT == 2) _tile_stored(1, c + 16, ldc);
  if constexpr (MT == 2) _tile_stored(2, c + 16 * NT * 16, ldc);
  if constexpr (MT == 2 && NT == 2) _tile_stored(3, c + 16 * NT * 16 + 16, ldc);
}

// y[i0 + r][col0 + c] = cbuf[r][c] + bias for r < rows, c < ncols.
void store_block(const float* cbuf, int ldc, int rows, int64_t ncols, const float* bias, float* y, int64_t ldy) {
  for (int r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ncols; c += 16) {
      const int64_t left = ncols - c;
      const __mmask16 mask = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1);
      __m512 v = _mm512_loadu_ps(cbuf + r * ldc + c);
      if (bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + c));
      _mm512_mask_storeu_ps(y + r * ldy + c, mask, v);
    }
  }
}

}  // namespace

void forward_amx(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  if (w.layout != PackLayout::Vnni16 || m < kAmxMinRows) {
    forward_avx512(w, x, m, y, pool);
    return;
  }
  const int64_t m_pad = (m + 15) / 16 * 16;
  auto* xb = static_cast<uint16_t*>(scratch_buffer(1, static_cast<size_t>(m_pad * w.k_pad) * 2));
  convert_x_bf16_avx512(x, m, w.k, w.k_pad, m_pad, xb);
  const int64_t pairs = w.k_pad / 2;
  const auto* wd = static_cast<const uint16_t*>(w.data);
  const int64_t nblocks = w.num_blocks();
  const int64_t npanels = (nblocks + 1) / 2;
  const float* bias = w.bias.empty() ? nullptr : w.bias.data();
  pool.parallel_for(npanels, [&](int64_t p0, int64_t p1) {
    configure_tiles();
    alignas(64) float cbuf[32 * 32];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p * 2;
      const bool two = b + 1 < nblocks;
      const uint16_t* b0 = wd + b * pairs * 32;
      const uint16_t* b1 = two ? b0 + pairs * 32 : b0;
      const int64_t col = b * 16;
      const int64_t ncols = std::min<int64_t>(w.n - col, two ? 32 : 16);
      for (int64_t i0 = 0; i0 < m; i0 += 32) {
        const uint16_t* a = xb + i0 * w.k_pad;
        const bool two_rows = i0 + 16 < m;
        const int rows = static_cast<int>(std::min<int64_t>(m - i0, 32));
        if (two && two_rows) amx_block<2, 2>(a, w.k_pad, b0, b1, w.k_pad, cbuf);
        else if (two) amx_block<1, 2>(a, w.k_pad, b0, b1, w.k_pad, cbuf);
        else if (two_rows) amx_block<2, 1>(a, w.k_pad, b0, b1, w.k_pad, cbuf);
        else amx_block<1, 1>(a, w.k_pad, b0, b1, w.k_pad, cbuf);
        store_block(cbuf, two ? 32 : 16, rows, ncols, bias ? bias + col : nullptr, y + i0 * w.n + col, w.n);
      }
    }
    _tile_release();
  });
}

}  // namespace serval::cpu
