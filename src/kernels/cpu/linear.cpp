// Linear: argument checks, load-time weight packing for the chosen ISA path, and dispatch to the
// per-ISA kernels (linear_avx2.cpp, linear_avx512.cpp, linear_amx.cpp). Also the scalar reference path.
#include "kernels/cpu/linear.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/linear_packed.h"

namespace serval::cpu {

struct Linear::Impl {
  PackedWeights w;
};

std::unique_ptr<void, AlignedFree> aligned_zeroed(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw Error("Linear: out of memory packing " + std::to_string(bytes) + " bytes of weights");
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

// Block16: dst[b][t][r] = W[b*16 + r][t], in the checkpoint dtype, rows past n zero.
void pack_block16(const WeightView& w, PackedWeights& p, ThreadPool& pool) {
  const size_t es = dtype_size(w.dtype);
  const int64_t k = w.in_features, n = w.out_features;
  p.storage = aligned_zeroed(static_cast<size_t>(p.n_pad * k) * es);
  auto* dst = static_cast<uint8_t*>(p.storage.get());
  const auto* src = static_cast<const uint8_t*>(w.data);
  pool.parallel_for(p.num_blocks(), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t rows = std::min<int64_t>(kBlockN, n - b * kBlockN);
      uint8_t* blk = dst + static_cast<size_t>(b * kBlockN * k) * es;
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* row = src + static_cast<size_t>((b * kBlockN + r) * k) * es;
        for (int64_t t = 0; t < k; ++t)
          std::memcpy(blk + static_cast<size_t>(t * kBlockN + r) * es, row + static_cast<size_t>(t) * es, es);
      }
    }
  });
}

// Vnni16 (bf16 only): dst[b][p][r][e] = W[b*16 + r][2p + e], zero outside [n, k].
void pack_vnni16(const WeightView& w, PackedWeights& p, ThreadPool& pool) {
  const int64_t k = w.in_features, n = w.out_features, pairs = p.k_pad / 2;
  p.storage = aligned_zeroed(static_cast<size_t>(p.n_pad * p.k_pad) * 2);
  auto* dst = static_cast<uint16_t*>(p.storage.get());
  const auto* src = static_cast<const uint16_t*>(w.data);
  pool.parallel_for(p.num_blocks(), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t rows = std::min<int64_t>(kBlockN, n - b * kBlockN);
      uint16_t* blk = dst + b * pairs * kBlockN * 2;
      for (int64_t r = 0; r < rows; ++r) {
        const uint16_t* row = src + (b * kBlockN + r) * k;
        for (int64_t t = 0; t < k; ++t) blk[((t / 2) * kBlockN + r) * 2 + (t & 1)] = row[t];
      }
    }
  });
}

}  // namespace

Linear::Linear() = default;
Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

Linear Linear::create(const WeightView& w, const float* bias) { return create(w, bias, active_isa()); }

Linear Linear::create(const WeightView& w, const float* bias, Isa isa) {
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
  if (isa == Isa::Scalar) {
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
    pack_block16(w, p, pool);
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

// Reference path: each weight row converted to float32, then plain dot products.
void forward_scalar(const PackedWeights& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
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
  return static_cast<size_t>(w.n_pad * w.k_pad) * dtype_size(w.dtype);
}

}  // namespace serval::cpu
