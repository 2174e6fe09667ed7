// AMX-BF16 Linear GEMM (compiled with -mamx-tile -mamx-bf16 and AVX-512; run only when the OS granted
// AMX): x rounded to bf16 once per call, 32x32 output blocks from 2x2 tiles over the Vnni16 weights,
// K split in L1-sized blocks. Int8/Int4 weights are dequantized to bf16 one L1-sized panel slice at a time.
// Few rows (decode) go to the AVX-512 kernels, which stream weights at least as fast.
#include <immintrin.h>

// NOTE: GCC 12 reports -Wmaybe-uninitialized inside its own intrinsics (the _mm*_undefined_* pass-through
// operand of e.g. _mm512_slli_epi32 / _mm512_cvtph_ps) once they are inlined into unrolled templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>

#include "kernels/cpu/linear_avx512.h"
#include "kernels/cpu/linear_packed.h"
#include "kernels/cpu/quant.h"

namespace serval::cpu {

namespace {

// Below this many rows the AVX-512 f32-FMA GEMV is used (memory-bound either way, and it keeps x in f32);
// from 5 rows on AMX wins (gate_up, 1 thread: m=8 0.97 ms vs 1.88 ms for vdpbf16ps; BM_Gemm).
constexpr int64_t kAmxMinRows = 5;
// Int8/Int4 weights: below this many rows the VNNI kernel wins, because AMX is bound by dequantizing the
// weights to bf16 (~1.3 ms per gate_up on 1 thread whatever m; VNNI: m=5 0.63, m=8 0.77, m=16 1.24,
// m=32 2.1 ms; BM_QuantGemm).
constexpr int64_t kAmxQuantMinRows = 16;
// K elements per AMX step (one bf16 tile row).
constexpr int64_t kTileK = 32;
// K elements per cache block: the B panel slice of a block (2 x 16 columns x 256 x 2 B = 16 KiB) stays in
// L1 while every 32-row block of x runs over it; partial sums live in a per-thread f32 buffer meanwhile.
constexpr int64_t kBlockK = 256;

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

// c[MT*16][32] (row stride 32 floats) (+)= A rows [16*MT] x B blocks [NT] over nk K elements.
// a points at row 0 of x at the first K element (bf16, row stride lda elements); b0/b1 at the Vnni16 pair
// row of that K element in their blocks.
template <int MT, int NT>
void amx_block(const uint16_t* a, int64_t lda, const uint16_t* b0, const uint16_t* b1, int64_t nk, bool accumulate,
               float* c) {
  constexpr int64_t ldc = 32 * 4;
  if (accumulate) {
    _tile_loadd(0, c, ldc);
    if constexpr (NT == 2) _tile_loadd(1, c + 16, ldc);
    if constexpr (MT == 2) _tile_loadd(2, c + 16 * 32, ldc);
    if constexpr (MT == 2 && NT == 2) _tile_loadd(3, c + 16 * 32 + 16, ldc);
  } else {
    _tile_zero(0);
    if constexpr (NT == 2) _tile_zero(1);
    if constexpr (MT == 2) _tile_zero(2);
    if constexpr (MT == 2 && NT == 2) _tile_zero(3);
  }
  const int64_t stride_a = lda * 2;
  for (int64_t kc = 0; kc < nk; kc += kTileK) {
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
  _tile_stored(0, c, ldc);
  if constexpr (NT == 2) _tile_stored(1, c + 16, ldc);
  if constexpr (MT == 2) _tile_stored(2, c + 16 * 32, ldc);
  if constexpr (MT == 2 && NT == 2) _tile_stored(3, c + 16 * 32 + 16, ldc);
}

// y[r][c] = cbuf[r][c] + bias[c] for r < rows, c < ncols (cbuf row stride 32 floats).
void store_rows(const float* cbuf, int64_t rows, int64_t ncols, const float* bias, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ncols; c += 16) {
      const int64_t left = ncols - c;
      const __mmask16 mask = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1);
      __m512 v = _mm512_loadu_ps(cbuf + r * 32 + c);
      if (bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + c));
      _mm512_mask_storeu_ps(y + r * ldy + c, mask, v);
    }
  }
}

}  // namespace

void forward_amx(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  const bool quant = w.quantized();
  if ((w.layout != PackLayout::Vnni16 && !quant) || m < (quant ? kAmxQuantMinRows : kAmxMinRows)) {
    forward_avx512(w, x, m, y, pool);
    return;
  }
  const int64_t m_pad = (m + 15) / 16 * 16;
  auto* xb = static_cast<uint16_t*>(scratch_buffer(1, static_cast<size_t>(m_pad * w.k_pad) * 2));
  if (m * w.k >= (int64_t{1} << 16)) {  // large enough that splitting the conversion pays for a dispatch
    pool.parallel_for(m_pad, [&](int64_t i0, int64_t i1) {
      const int64_t real_end = std::min(i1, m);
      if (i0 < real_end) convert_x_bf16_avx512(x + i0 * w.k, real_end - i0, w.k, w.k_pad, real_end - i0, xb + i0 * w.k_pad);
      if (std::max(i0, m) < i1)
        std::memset(xb + std::max(i0, m) * w.k_pad, 0, static_cast<size_t>((i1 - std::max(i0, m)) * w.k_pad) * 2);
    });
  } else {
    convert_x_bf16_avx512(x, m, w.k, w.k_pad, m_pad, xb);
  }
  const int64_t pairs = w.k_pad / 2;
  const auto* wd = static_cast<const uint16_t*>(w.data);
  const int64_t nblocks = w.num_blocks();
  const int64_t npanels = (nblocks + 1) / 2;
  const float* bias = w.bias.empty() ? nullptr : w.bias.data();
  // Panels are processed in groups: for each K block, every panel of the group runs over the same
  // m_pad x kBlockK slice of x, which therefore stays in L2 (x itself is 2.3 MB at m=128, K=8960).
  // The group's partial sums (group x m_pad x 32 f32) are kept to about 256 KiB.
  const int64_t group_cap = std::max<int64_t>(1, std::min<int64_t>(8, (256 << 10) / (m_pad * 32 * 4)));
  const int64_t grain = std::max<int64_t>(1, npanels / (static_cast<int64_t>(pool.num_threads()) * 4));
  pool.parallel_for_dynamic(npanels, grain, [&](int64_t p0, int64_t p1) {
    configure_tiles();
    const int64_t group = std::min(group_cap, p1 - p0);
    // Partial sums, per panel of the group: [m_pad][32] f32.
    auto* cacc = static_cast<float*>(scratch_buffer(2, static_cast<size_t>(group * m_pad * 32) * 4));
    // Quantized weights: the panel's K block dequantized to bf16 (2 blocks x kBlockK x 16 columns, 16 KiB,
    // stays in L1 while every row block of x runs over it).
    auto* bbuf = quant ? static_cast<uint16_t*>(scratch_buffer(3, size_t{2} * kBlockK * 16 * 2)) : nullptr;
    for (int64_t g0 = p0; g0 < p1; g0 += group) {
      const int64_t g1 = std::min(p1, g0 + group);
      for (int64_t k0 = 0; k0 < w.k_pad; k0 += kBlockK) {
        const int64_t k1 = std::min(w.k_pad, k0 + kBlockK);
        for (int64_t p = g0; p < g1; ++p) {
          const int64_t b = p * 2;
          const bool two = b + 1 < nblocks;
          const uint16_t* b0;
          const uint16_t* b1;
          if (quant) {
            dequantize_bf16_avx512(w, b, k0 / kTileK, k1 / kTileK, bbuf);
            if (two) dequantize_bf16_avx512(w, b + 1, k0 / kTileK, k1 / kTileK, bbuf + kBlockK * 16);
            b0 = bbuf;
            b1 = two ? bbuf + kBlockK * 16 : bbuf;
          } else {
            b0 = wd + b * pairs * 32 + k0 * 16;
            b1 = two ? b0 + pairs * 32 : b0;
          }
          float* cpanel = cacc + (p - g0) * m_pad * 32;
          for (int64_t i0 = 0; i0 < m_pad; i0 += 32) {
            const uint16_t* a = xb + i0 * w.k_pad + k0;
            float* c = cpanel + i0 * 32;
            const bool two_rows = i0 + 16 < m_pad;
            const bool acc = k0 > 0;
            if (two && two_rows) amx_block<2, 2>(a, w.k_pad, b0, b1, k1 - k0, acc, c);
            else if (two) amx_block<1, 2>(a, w.k_pad, b0, b1, k1 - k0, acc, c);
            else if (two_rows) amx_block<2, 1>(a, w.k_pad, b0, b1, k1 - k0, acc, c);
            else amx_block<1, 1>(a, w.k_pad, b0, b1, k1 - k0, acc, c);
          }
        }
      }
      for (int64_t p = g0; p < g1; ++p) {
        const int64_t col = p * 32;
        const int64_t ncols = std::min<int64_t>(w.n - col, 32);
        store_rows(cacc + (p - g0) * m_pad * 32, m, ncols, bias ? bias + col : nullptr, y + col, w.n);
      }
    }
    _tile_release();
  });
}

}  // namespace serval::cpu
