// Linear: every ISA path this CPU has, for every weight dtype, against a double-precision reference over
// odd shapes (N, K not multiples of the tile, decode and prefill row counts, long K), with and without bias.
#include "kernels/cpu/linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"

namespace serval::cpu {
namespace {

struct Case {
  int64_t n, k;
};

// Weights stored in `dtype`, plus their exact float32 values (what the reference multiplies).
struct Weights {
  std::vector<uint8_t> raw;
  std::vector<float> exact;
};

Weights make_weights(DType dtype, int64_t n, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> f(static_cast<size_t>(n * k));
  for (float& v : f) v = dist(rng);
  Weights w;
  w.raw.resize(f.size() * dtype_size(dtype));
  convert_from_f32(dtype, f.data(), w.raw.data(), f.size());
  w.exact.resize(f.size());
  convert_to_f32(dtype, w.raw.data(), w.exact.data(), f.size());
  return w;
}

// Paths that round x to bf16 before multiplying (vdpbf16ps / AMX): bf16 weights on the AVX-512 and AMX
// paths, except decode rows (m <= 4), which use f32 FMA on upconverted weights.
bool rounds_x_to_bf16(Isa isa, DType dtype, int64_t m) {
  return dtype == DType::BF16 && (isa == Isa::Amx || isa == Isa::Avx512Bf16) && m > 4;
}

// Tolerance on |y - ref|, relative to the dot-product magnitude sum_t |x_t * w_t| (+ |bias|):
// - f32 activations (FMA on exactly upconverted weights): only float32 accumulation error remains; it is
//   ~sqrt(K) * 2^-24 of the magnitude for random signs, far below 1e-5 at K = 8960.
// - bf16 activations: rounding x to bf16 (8 significant bits, round to nearest) changes each product by
//   at most 2^-8 (~3.9e-3) relative, so the sum moves by at most 2^-8 of the magnitude; 5e-3 leaves room
//   for the f32 accumulation on top. (Tighter than the usual 1e-2 bf16 tolerance, and still cannot flake:
//   it is a bound, not a statistical estimate.)
double tolerance(Isa isa, DType dtype, int64_t m) { return rounds_x_to_bf16(isa, dtype, m) ? 5e-3 : 1e-5; }

class LinearPathTest : public ::testing::TestWithParam<std::tuple<Isa, DType>> {
 protected:
  void SetUp() override {
    if (!isa_supported(cpu_features(), std::get<0>(GetParam())))
      GTEST_SKIP() << "this CPU lacks the " << isa_name(std::get<0>(GetParam())) << " path";
  }
};

TEST_P(LinearPathTest, MatchesDoublePrecisionReference) {
  const auto [isa, dtype] = GetParam();
  const std::vector<Case> cases = {{1, 1}, {17, 33}, {48, 64}, {100, 517}, {35, 8960}, {300, 96}, {1000, 300}};
  const std::vector<int64_t> rows = {1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 33, 128};
  ThreadPool pool(3);  // an odd split, so chunk edges fall inside panels
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int case_index = 0;
  for (const Case& c : cases) {
    const Weights w = make_weights(dtype, c.n, c.k, rng);
    std::vector<float> bias(static_cast<size_t>(c.n));
    for (float& b : bias) b = dist(rng);
    const bool with_bias = (case_index++ % 2) == 0;
    const Linear lin =
        Linear::create(WeightView{dtype, c.n, c.k, w.raw.data()}, with_bias ? bias.data() : nullptr, isa);
    ASSERT_EQ(lin.isa(), isa);
    for (int64_t m : rows) {
      if (m * c.n * c.k > 50'000'000) continue;  // keep the double reference fast
      SCOPED_TRACE("n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) + " m=" + std::to_string(m) +
                   (with_bias ? " bias" : " no bias"));
      std::vector<float> x(static_cast<size_t>(m * c.k));
      for (float& v : x) v = dist(rng);
      std::vector<float> y(static_cast<size_t>(m * c.n), std::nanf(""));
      lin.forward(x.data(), m, y.data(), pool);
      double worst = 0.0;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < c.n; ++j) {
          double ref = with_bias ? bias[static_cast<size_t>(j)] : 0.0;
          double mag = std::fabs(ref);
          for (int64_t t = 0; t < c.k; ++t) {
            const double p = static_cast<double>(x[static_cast<size_t>(i * c.k + t)]) *
                             w.exact[static_cast<size_t>(j * c.k + t)];
            ref += p;
            mag += std::fabs(p);
          }
          const double got = y[static_cast<size_t>(i * c.n + j)];
          ASSERT_TRUE(std::isfinite(got)) << "y[" << i << "][" << j << "] not written";
          worst = std::max(worst, std::fabs(got - ref) / (mag + 1e-30));
        }
      }
      EXPECT_LE(worst, tolerance(isa, dtype, m));
    }
  }
}

TEST_P(LinearPathTest, ResultDoesNotDependOnThreadCount) {
  const auto [isa, dtype] = GetParam();
  std::mt19937 rng(7);
  const int64_t n = 333, k = 1000;
  const Weights w = make_weights(dtype, n, k, rng);
  const Linear lin = Linear::create(WeightView{dtype, n, k, w.raw.data()}, nullptr, isa);
  for (int64_t m : {1, 20}) {
    std::vector<float> x(static_cast<size_t>(m * k));
    for (float& v : x) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    std::vector<float> y1(static_cast<size_t>(m * n)), y2(y1.size());
    ThreadPool one(1), three(3);
    lin.forward(x.data(), m, y1.data(), one);
    lin.forward(x.data(), m, y2.data(), three);
    EXPECT_EQ(y1, y2) << "m=" << m;
  }
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Isa, DType>>& info) {
  std::string d(dtype_name(std::get<1>(info.param)));
  return isa_name(std::get<0>(info.param)) + "_" + d;
}

INSTANTIATE_TEST_SUITE_P(AllPaths, LinearPathTest,
                         ::testing::Combine(::testing::Values(Isa::Amx, Isa::Avx512Bf16, Isa::Avx2, Isa::Scalar),
                                            ::testing::Values(DType::F32, DType::F16, DType::BF16)),
                         param_name);

TEST(LinearTest, ReportsShapeDtypeAndBytes) {
  std::vector<uint16_t> w(static_cast<size_t>(40 * 70), 0);
  const Linear lin = Linear::create(WeightView{DType::BF16, 40, 70, w.data()}, nullptr);
  EXPECT_EQ(lin.out_features(), 40);
  EXPECT_EQ(lin.in_features(), 70);
  EXPECT_EQ(lin.weight_dtype(), DType::BF16);
  EXPECT_EQ(lin.isa(), active_isa());
  EXPECT_GE(lin.weight_bytes(), size_t{40 * 70 * 2});
}

TEST(LinearTest, RejectsBadWeights) {
  std::vector<float> w(16, 1.0f);
  EXPECT_THROW(Linear::create(WeightView{DType::F32, 4, 4, nullptr}, nullptr), Error);
  EXPECT_THROW(Linear::create(WeightView{DType::F32, 0, 4, w.data()}, nullptr), Error);
  EXPECT_THROW(Linear::create(WeightView{DType::F32, 4, -1, w.data()}, nullptr), Error);
}

TEST(LinearTest, RejectsBadForwardArguments) {
  std::vector<float> w(16, 1.0f), x(4, 1.0f), y(4, 0.0f);
  const Linear lin = Linear::create(WeightView{DType::F32, 4, 4, w.data()}, nullptr);
  EXPECT_THROW(lin.forward(x.data(), -1, y.data()), Error);
  EXPECT_THROW(lin.forward(nullptr, 1, y.data()), Error);
  lin.forward(x.data(), 0, y.data());  // no rows: nothing to do
  EXPECT_EQ(y[0], 0.0f);
  Linear empty;
  EXPECT_THROW(empty.forward(x.data(), 1, y.data()), Error);
}

}  // namespace
}  // namespace serval::cpu
