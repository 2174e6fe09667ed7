// Linear: argument checks, load-time weight packing for the chosen ISA path, and dispatch to the
// per-ISA kernels (linear_avx2.cpp, linear_avx512.cpp, linear_amx.cpp). Also the scalar reference path.
#include "kernels/cpu/linear.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/linear_packed.h"
#include "kernels/cpu/quant.h"

namespace serval::cpu {

struct Linear::Impl {
  PackedWeights w;
};

std::unique_ptr<void, AlignedFree> aligned_zeroed(size_t bytes) {
  // NOTE: big weight buffers go on 2 MiB-aligned transparent huge pages: a 3 GB model then packs with
  // ~1.5k page faults instead of ~750k, and streaming it does not thrash the TLB.
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = bytes >= 2 * kHuge ? kHuge : 64;
  size_t rounded = (bytes + align - 1) / align * align;
  if (rounded == 0) rounded = align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) throw Error("Linear: out of memory allocating " + std::to_string(bytes) + " bytes");
  if (align == kHuge) madvise(p, rounded, MADV_HUGEPAGE);
  std::memset(p, 0, rounded);
  return std::unique_ptr<void, AlignedFree>(p);
}

void* scratch_buffer(int slot, size_t bytes) {
  constexpr int kSlots = 4;
  struct Slot {
    std::unique_ptr<void, AlignedFree> ptr;
    size_t size = 0;
  };
  thread_local Slot slots[kSlots];
  Slot& s = slots[slot];
  if (s.size < bytes) {
    s.ptr = aligned_zeroed(bytes);
    s.size = bytes;
  }
  return s.ptr.get();
}

namespace {

int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// Block16: dst[b][t][r] = W[b*16 + r][t], in the checkpoint dtype (E is its storage type), rows past n
// left zero. Reads 16 rows in parallel so the writes are sequential.
template <typename E>
void pack_block16(const WeightView& w, PackedWeights& p, ThreadPool& pool) {
  const int64_t k = w.in_features, n = w.out_features;
  p.storage = aligned_zeroed(static_cast<size_t>(p.n_pad * k) * sizeof(E));
  auto* dst = static_cast<E*>(p.storage.get());
  const auto* src = static_cast<const E*>(w.data);
  pool.parallel_for(p.num_blocks(), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t rows = std::min<int64_t>(kBlockN, n - b * kBlockN);
      E* blk = dst + b * kBlockN * k;
      const E* row[kBlockN];
      for (int64_t r = 0; r < rows; ++r) row[r] = src + (b * kBlockN + r) * k;
      for (int64_t t = 0; t < k; ++t)
        for (int64_t r = 0; r < rows; ++r) blk[t * kBlockN + r] = row[r][t];
    }
  });
}

// Vnni16 (bf16 only): dst[b][q][r][e] = W[b*16 + r][2q + e], zero outside [n, k]. A (2q, 2q+1) pair is
// one 32-bit word in both layouts, so this is a 16-row transpose of 32-bit words.
void pack_vnni16(const WeightView& w, PackedWeights& p, ThreadPool& pool) {
  const int64_t k = w.in_features, n = w.out_features, pairs = p.k_pad / 2, full = k / 2;
  p.storage = aligned_zeroed(static_cast<size_t>(p.n_pad * p.k_pad) * 2);
  auto* dst = static_cast<uint32_t*>(p.storage.get());
  const auto* src = static_cast<const uint16_t*>(w.data);
  pool.parallel_for(p.num_blocks(), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t rows = std::min<int64_t>(kBlockN, n - b * kBlockN);
      uint32_t* blk = dst + b * pairs * kBlockN;
      const uint16_t* row[kBlockN];
      for (int64_t r = 0; r < rows; ++r) row[r] = src + (b * kBlockN + r) * k;
      for (int64_t q = 0; q < full; ++q)
        for (int64_t r = 0; r < rows; ++r) {
          uint32_t v;
          std::memcpy(&v, row[r] + 2 * q, 4);  // rows may be only 2-byte aligned
          blk[q * kBlockN + r] = v;
        }
      if (k & 1)  // odd k: the last pair is (W[n][k-1], 0)
        for (int64_t r = 0; r < rows; ++r) blk[full * kBlockN + r] = row[r][k - 1];
    }
  });
}

}  // namespace

Linear::Linear() = default;
Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

Linear Linear::create(const WeightView& w, const float* bias) {
  return create(w, bias, active_isa(), LinearFormat::Native);
}

Linear Linear::create(const WeightView& w, const float* bias, Isa isa) {
  return create(w, bias, isa, LinearFormat::Native);
}

Linear Linear::create(const WeightView& w, const float* bias, LinearFormat format) {
  return create(w, bias, active_isa(), format);
}

Linear Linear::create(const WeightView& w, const float* bias, Isa isa, LinearFormat format) {
  if (w.data == nullptr) throw Error("Linear: weight data is null");
  if (w.out_features <= 0 || w.in_features <= 0)
    throw Error("Linear: weight shape [" + std::to_string(w.out_features) + ", " + std::to_string(w.in_features) +
                "] must be positive");
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16)
    throw Error("Linear: unsupported weight dtype " + std::string(dtype_name(w.dtype)));
  if (!isa_supported(cpu_features(), isa))
    throw Error("Linear: kernel path " + isa_name(isa) + " is not supported by this CPU (best: " +
                isa_name(best_isa(cpu_features())) + ")");

  Linear lin;
  lin.impl_ = std::make_unique<Impl>();
  PackedWeights& p = lin.impl_->w;
  p.isa = isa;
  p.dtype = w.dtype;
  p.n = w.out_features;
  p.k = w.in_features;
  ThreadPool& pool = global_thread_pool();
  if (format == LinearFormat::Int8 || format == LinearFormat::Int4) {
    p.layout = format == LinearFormat::Int8 ? PackLayout::Int8Vnni : PackLayout::Int4Vnni;
    p.n_pad = round_up(p.n, kBlockN);
    p.k_pad = round_up(p.k, kQuantGroup);
    pack_quantized(w, p, pool);
    p.data = p.storage.get();
  } else if (isa == Isa::Scalar) {
    p.layout = PackLayout::RowMajor;
    p.n_pad = p.n;
    p.k_pad = p.k;
    p.data = w.data;
  } else if (w.dtype == DType::BF16 && (isa == Isa::Amx || isa == Isa::Avx512Bf16)) {
    p.layout = PackLayout::Vnni16;
    p.n_pad = round_up(p.n, kBlockN);
    p.k_pad = round_up(p.k, kVnniK);
    pack_vnni16(w, p, pool);
    p.data = p.storage.get();
  } else {
    p.layout = PackLayout::Block16;
    p.n_pad = round_up(p.n, kBlockN);
    p.k_pad = p.k;
    switch (w.dtype) {
      case DType::F32: pack_block16<uint32_t>(w, p, pool); break;
      case DType::F16:
      case DType::BF16: pack_block16<uint16_t>(w, p, pool); break;
    }
    p.data = p.storage.get();
  }
  if (bias != nullptr) {
    p.bias.assign(static_cast<size_t>(p.n_pad), 0.0f);
    std::copy(bias, bias + p.n, p.bias.begin());
  }
  return lin;
}

void Linear::forward(const float* x, int64_t m, float* y, ThreadPool& pool) const {
  if (!impl_) throw Error("Linear::forward on an empty (moved-from or default) Linear");
  if (m < 0) throw Error("Linear::forward: negative row count m=" + std::to_string(m));
  if (m == 0) return;
  if (x == nullptr || y == nullptr) throw Error("Linear::forward: null input or output pointer");
  const PackedWeights& w = impl_->w;
  switch (w.isa) {
    case Isa::Amx: forward_amx(w, x, m, y, pool); return;
    case Isa::Avx512Bf16: forward_avx512(w, x, m, y, pool); return;
    case Isa::Avx2: forward_avx2(w, x, m, y, pool); return;
    case Isa::Scalar: forward_scalar(w, x, m, y, pool); return;
  }
}

LinearFormat Linear::format() const {
  switch (impl_->w.layout) {
    case PackLayout::Int8Vnni: return LinearFormat::Int8;
    case PackLayout::Int4Vnni: return LinearFormat::Int4;
    default: return LinearFormat::Native;
  }
}

// Reference path: each weight row converted to float32, then plain dot products.
void forward_scalar(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  if (w.quantized()) {
    forward_quant_scalar(w, x, m, y, pool);
    return;
  }
  const int64_t n = w.n, k = w.k;
  pool.parallel_for(n, [&](int64_t n0, int64_t n1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t j = n0; j < n1; ++j) {
      const auto* src = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(j * k) * dtype_size(w.dtype);
      convert_to_f32(w.dtype, src, row.data(), static_cast<size_t>(k));
      const float b = w.bias.empty() ? 0.0f : w.bias[static_cast<size_t>(j)];
      for (int64_t i = 0; i < m; ++i) {
        const float* xi = x + i * k;
        float acc = 0.0f;
        for (int64_t t = 0; t < k; ++t) acc += xi[t] * row[static_cast<size_t>(t)];
        y[i * n + j] = acc + b;
      }
    }
  });
}

int64_t Linear::in_features() const { return impl_->w.k; }
int64_t Linear::out_features() const { return impl_->w.n; }
DType Linear::weight_dtype() const { return impl_->w.dtype; }
Isa Linear::isa() const { return impl_->w.isa; }
size_t Linear::weight_bytes() const {
  const PackedWeights& w = impl_->w;
  if (w.quantized()) return quantized_weight_bytes(w);  // codes + f16 scales
  return static_cast<size_t>(w.n_pad * w.k_pad) * dtype_size(w.dtype);
}

}  // namespace serval::cpu
