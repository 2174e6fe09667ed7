// Linear with int8 / int4 weights (LinearFormat::Int8 / Int4): every ISA path this CPU has against a
// plain double-precision re-implementation of the documented arithmetic (kernels/cpu/quant.h), over odd
// shapes (K not a multiple of the group, 1 row, long K) and m = 1..17 rows, with and without bias.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/linear.h"

namespace serval::cpu {
namespace {

constexpr int64_t kGroup = 32;

// W as the documented format stores it: q[n][k] and the f16-rounded group scales ws[n][groups].
struct RefWeights {
  std::vector<int> q;
  std::vector<double> ws;
};

RefWeights quantize_weights(const std::vector<float>& w, int64_t n, int64_t k, LinearFormat format) {
  const int64_t groups = (k + kGroup - 1) / kGroup;
  RefWeights r{std::vector<int>(w.size()), std::vector<double>(static_cast<size_t>(n * groups))};
  for (int64_t j = 0; j < n; ++j)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t t0 = g * kGroup, t1 = std::min(k, t0 + kGroup);
      float extreme = 0.0f;
      for (int64_t t = t0; t < t1; ++t)
        if (std::fabs(w[j * k + t]) > std::fabs(extreme)) extreme = w[j * k + t];
      const float wanted = format == LinearFormat::Int4 ? extreme / -8.0f : std::fabs(extreme) / 127.0f;
      const float scale = f16_to_f32(f32_to_f16(wanted));
      r.ws[j * groups + g] = scale;
      const float lo = format == LinearFormat::Int4 ? -8.0f : -127.0f, hi = format == LinearFormat::Int4 ? 7.0f : 127.0f;
      for (int64_t t = t0; t < t1; ++t)
        r.q[j * k + t] = scale != 0.0f ? static_cast<int>(std::clamp(std::nearbyint(w[j * k + t] / scale), lo, hi)) : 0;
    }
  return r;
}

// x per row and group of 32: scale = max|x| / 127, q = round(x * 127 / max|x|).
struct RefX {
  std::vector<int> q;
  std::vector<double> xs;
};

RefX quantize_x(const std::vector<float>& x, int64_t m, int64_t k) {
  const int64_t groups = (k + kGroup - 1) / kGroup;
  RefX r{std::vector<int>(x.size()), std::vector<double>(static_cast<size_t>(m * groups))};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t t0 = g * kGroup, t1 = std::min(k, t0 + kGroup);
      float amax = 0.0f;
      for (int64_t t = t0; t < t1; ++t) amax = std::max(amax, std::fabs(x[i * k + t]));
      const float inv = amax > 0 ? 127.0f / amax : 0.0f;
      r.xs[i * groups + g] = amax > 0 ? amax / 127.0f : 0.0f;
      for (int64_t t = t0; t < t1; ++t) r.q[i * k + t] = static_cast<int>(std::nearbyint(x[i * k + t] * inv));
    }
  return r;
}

// Prefill rows on the amx path multiply bf16 x by bf16-rounded dequantized weights instead of int8 x.
bool uses_amx_bf16(Isa isa, int64_t m) { return isa == Isa::Amx && m >= 16; }  // kAmxQuantMinRows

std::vector<float> random_vector(size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& f : v) f = dist(rng);
  return v;
}

class LinearQuantTest : public ::testing::TestWithParam<std::tuple<Isa, LinearFormat>> {
 protected:
  void SetUp() override {
    if (!isa_supported(cpu_features(), std::get<0>(GetParam())))
      GTEST_SKIP() << "this CPU lacks the " << isa_name(std::get<0>(GetParam())) << " path";
  }
};

// Integer paths: y = sum_g ws * xs * (sum q * xq) + bias exactly up to f32 accumulation (1e-5 of the sum of
// magnitudes). AMX bf16 prefill: y = x · (q * ws)ᵀ + bias up to bf16 rounding of both operands (each
// <= 2^-8 relative, so <= ~2^-7 = 7.8e-3 of sum |x * q * ws|; 8e-3 leaves room for f32 accumulation).
TEST_P(LinearQuantTest, MatchesReferenceArithmetic) {
  const auto [isa, format] = GetParam();
  struct Case {
    int64_t n, k;
  };
  const std::vector<Case> cases = {{1, 1}, {17, 33}, {48, 64}, {100, 517}, {35, 8960}, {300, 96}};
  ThreadPool pool(3);  // an odd split, so chunk edges fall inside panels
  std::mt19937 rng(2024);
  int case_index = 0;
  for (const Case& c : cases) {
    for (DType dtype : {DType::BF16, DType::F32}) {
      std::vector<float> w = random_vector(static_cast<size_t>(c.n * c.k), rng);
      std::vector<uint8_t> raw(w.size() * dtype_size(dtype));
      convert_from_f32(dtype, w.data(), raw.data(), w.size());
      convert_to_f32(dtype, raw.data(), w.data(), w.size());  // what the Linear sees
      const RefWeights rw = quantize_weights(w, c.n, c.k, format);
      const int64_t groups = (c.k + kGroup - 1) / kGroup;
      const std::vector<float> bias = random_vector(static_cast<size_t>(c.n), rng);
      const bool with_bias = (case_index++ % 2) == 0;
      const Linear lin =
          Linear::create(WeightView{dtype, c.n, c.k, raw.data()}, with_bias ? bias.data() : nullptr, isa, format);
      ASSERT_EQ(lin.format(), format);
      ASSERT_EQ(lin.isa(), isa);
      for (int64_t m = 1; m <= 17; ++m) {
        SCOPED_TRACE("n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) + " m=" + std::to_string(m) + " " +
                     std::string(dtype_name(dtype)) + (with_bias ? " bias" : ""));
        const std::vector<float> x = random_vector(static_cast<size_t>(m * c.k), rng);
        const RefX rx = quantize_x(x, m, c.k);
        std::vector<float> y(static_cast<size_t>(m * c.n), std::nanf(""));
        lin.forward(x.data(), m, y.data(), pool);
        const bool bf16 = uses_amx_bf16(isa, m);
        double worst = 0.0;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < c.n; ++j) {
            double ref = with_bias ? bias[j] : 0.0, mag = std::fabs(ref);
            for (int64_t g = 0; g < groups; ++g) {
              const double ws = rw.ws[j * groups + g];
              const int64_t t0 = g * kGroup, t1 = std::min(c.k, t0 + kGroup);
              for (int64_t t = t0; t < t1; ++t) {
                const double p = bf16 ? x[i * c.k + t] * rw.q[j * c.k + t] * ws
                                      : rx.q[i * c.k + t] * rw.q[j * c.k + t] * ws * rx.xs[i * groups + g];
                ref += p;
                mag += std::fabs(p);
              }
            }
            const double got = y[i * c.n + j];
            ASSERT_TRUE(std::isfinite(got)) << "y[" << i << "][" << j << "] not written";
            worst = std::max(worst, std::fabs(got - ref) / (mag + 1e-30));
          }
        EXPECT_LE(worst, bf16 ? 8e-3 : 1e-5);
      }
    }
  }
}

TEST_P(LinearQuantTest, ResultDoesNotDependOnThreadCount) {
  const auto [isa, format] = GetParam();
  std::mt19937 rng(7);
  const int64_t n = 333, k = 1000;
  const std::vector<float> w = random_vector(static_cast<size_t>(n * k), rng);
  const Linear lin = Linear::create(WeightView{DType::F32, n, k, w.data()}, nullptr, isa, format);
  for (int64_t m : {1, 3, 20}) {
    const std::vector<float> x = random_vector(static_cast<size_t>(m * k), rng);
    std::vector<float> y1(static_cast<size_t>(m * n)), y2(y1.size());
    ThreadPool one(1), three(3);
    lin.forward(x.data(), m, y1.data(), one);
    lin.forward(x.data(), m, y2.data(), three);
    EXPECT_EQ(y1, y2) << "m=" << m;
  }
}

// What quantization costs against the unquantized product, on random data (the golden-model figures
// are in tests/model/quantized_golden_test.cpp): relative RMS error of y, measured int8 0.6-0.8 %,
// int4 8-9 % over every path; asserted with ~2x margin.
TEST_P(LinearQuantTest, StaysCloseToUnquantizedProduct) {
  const auto [isa, format] = GetParam();
  std::mt19937 rng(11);
  const int64_t n = 256, k = 1536;
  const std::vector<float> w = random_vector(static_cast<size_t>(n * k), rng);
  const Linear lin = Linear::create(WeightView{DType::F32, n, k, w.data()}, nullptr, isa, format);
  for (int64_t m : {1, 16}) {
    const std::vector<float> x = random_vector(static_cast<size_t>(m * k), rng);
    std::vector<float> y(static_cast<size_t>(m * n));
    lin.forward(x.data(), m, y.data());
    double err = 0, norm = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = 0;
        for (int64_t t = 0; t < k; ++t) ref += static_cast<double>(x[i * k + t]) * w[j * k + t];
        err += (y[i * n + j] - ref) * (y[i * n + j] - ref);
        norm += ref * ref;
      }
    EXPECT_LT(std::sqrt(err / norm), format == LinearFormat::Int8 ? 0.015 : 0.18) << "m=" << m;
  }
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Isa, LinearFormat>>& info) {
  return isa_name(std::get<0>(info.param)) + (std::get<1>(info.param) == LinearFormat::Int8 ? "_int8" : "_int4");
}

INSTANTIATE_TEST_SUITE_P(AllPaths, LinearQuantTest,
                         ::testing::Combine(::testing::Values(Isa::Amx, Isa::Avx512Bf16, Isa::Avx2, Isa::Scalar),
                                            ::testing::Values(LinearFormat::Int8, LinearFormat::Int4)),
                         param_name);

TEST(LinearQuantTest, QuantizedFormatsReadFewerBytes) {
  std::vector<uint16_t> w(static_cast<size_t>(64 * 256), 0x3f80);  // all 1.0
  const Linear native = Linear::create(WeightView{DType::BF16, 64, 256, w.data()}, nullptr);
  const Linear int8 = Linear::create(WeightView{DType::BF16, 64, 256, w.data()}, nullptr, LinearFormat::Int8);
  const Linear int4 = Linear::create(WeightView{DType::BF16, 64, 256, w.data()}, nullptr, LinearFormat::Int4);
  EXPECT_EQ(native.format(), LinearFormat::Native);
  EXPECT_EQ(int8.weight_bytes(), size_t{64 * 256 + 64 * 8 * 2});      // 1 byte per weight + f16 scale per 32
  EXPECT_EQ(int4.weight_bytes(), size_t{64 * 256 / 2 + 64 * 8 * 2});  // 4 bits per weight + f16 scale per 32
  EXPECT_LT(int8.weight_bytes() * 100, native.weight_bytes() * 54);
  std::vector<float> x(256, 0.5f), y(64);
  // int4: 1.0 is q = -8 with scale -1/8, exact; int8: q = 127 with scale f16(1/127) = 0.0078735...
  const double int8_one = 127.0 * f16_to_f32(f32_to_f16(1.0f / 127.0f));
  int8.forward(x.data(), 1, y.data());
  for (float v : y) EXPECT_NEAR(v, 128.0 * int8_one, 1e-4);
  int4.forward(x.data(), 1, y.data());
  for (float v : y) EXPECT_EQ(v, 128.0f);
}

TEST(LinearQuantTest, ZeroWeightsAndZeroInputGiveBias) {
  const int64_t n = 20, k = 70;
  std::vector<float> w(static_cast<size_t>(n * k), 0.0f), bias(static_cast<size_t>(n)), x(static_cast<size_t>(3 * k), 0.0f);
  for (int64_t j = 0; j < n; ++j) bias[j] = static_cast<float>(j);
  for (LinearFormat f : {LinearFormat::Int8, LinearFormat::Int4}) {
    const Linear lin = Linear::create(WeightView{DType::F32, n, k, w.data()}, bias.data(), f);
    std::vector<float> y(static_cast<size_t>(3 * n));
    lin.forward(x.data(), 3, y.data());
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < n; ++j) EXPECT_EQ(y[i * n + j], bias[j]);
  }
}

TEST(LinearQuantTest, RejectsWeightsBeyondTheScaleRange) {
  std::vector<float> w(64, 1e9f);
  EXPECT_THROW(Linear::create(WeightView{DType::F32, 2, 32, w.data()}, nullptr, LinearFormat::Int8), Error);
}

}  // namespace
}  // namespace serval::cpu
