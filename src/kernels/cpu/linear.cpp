#include "kernels/cpu/linear.h"

#include <vector>

#include "core/error.h"

namespace serval::cpu {

// Reference implementation: weights as stored, converted row by row to float32.
// The optimized ISA paths replace this behind the same interface.
struct Linear::Impl {
  WeightView w;
  std::vector<float> bias;
};

Linear::Linear() = default;
Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

Linear Linear::create(const WeightView& w, const float* bias) {
  Linear lin;
  lin.impl_ = std::make_unique<Impl>();
  lin.impl_->w = w;
  if (bias != nullptr) lin.impl_->bias.assign(bias, bias + w.out_features);
  return lin;
}

void Linear::forward(const float* x, int64_t m, float* y, ThreadPool& pool) const {
  const WeightView& w = impl_->w;
  const int64_t n = w.out_features, k = w.in_features;
  pool.parallel_for(n, [&](int64_t n0, int64_t n1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t j = n0; j < n1; ++j) {
      const auto* src = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(j * k) * dtype_size(w.dtype);
      convert_to_f32(w.dtype, src, row.data(), static_cast<size_t>(k));
      float b = impl_->bias.empty() ? 0.0f : impl_->bias[static_cast<size_t>(j)];
      for (int64_t i = 0; i < m; ++i) {
        const float* xi = x + i * k;
        float acc = 0.0f;
        for (int64_t t = 0; t < k; ++t) acc += xi[t] * row[static_cast<size_t>(t)];
        y[i * n + j] = acc + b;
      }
    }
  });
}

int64_t Linear::in_features() const { return impl_->w.in_features; }
int64_t Linear::out_features() const { return impl_->w.out_features; }
DType Linear::weight_dtype() const { return impl_->w.dtype; }
size_t Linear::weight_bytes() const {
  return static_cast<size_t>(impl_->w.in_features * impl_->w.out_features) * dtype_size(impl_->w.dtype);
}

}  // namespace serval::cpu
