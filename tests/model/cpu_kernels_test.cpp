// The model layer's non-linear CPU kernels against naive double-precision versions: paged attention
// (GQA, every KV dtype, sliding window, soft-cap, scattered blocks), RoPE scalings, RMSNorm, SwiGLU.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"

namespace serval::cpu {
namespace {

std::vector<float> randn(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct AttnCase {
  DType dtype;
  int window;
  float softcap;
};

class PagedAttention : public ::testing::TestWithParam<AttnCase> {};

// Two sequences (one decoding after 37 cached tokens, one prefilling 21), block size 4, blocks shuffled.
TEST_P(PagedAttention, MatchesNaiveAttention) {
  const AttnCase pc = GetParam();
  const int nh = 6, nkv = 2, hd = 16, bs = 4, nb = 40;
  std::mt19937 rng(3);
  const int lens[2] = {38, 21}, first[2] = {37, 0};  // total positions, first new position
  std::vector<std::vector<float>> keys, vals;        // per seq: [len, nkv, hd] after RoPE
  for (int s = 0; s < 2; ++s) {
    keys.push_back(randn(static_cast<size_t>(lens[s]) * nkv * hd, rng));
    vals.push_back(randn(static_cast<size_t>(lens[s]) * nkv * hd, rng));
  }
  std::vector<int32_t> ids(nb);
  for (int i = 0; i < nb; ++i) ids[static_cast<size_t>(i)] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<int32_t> tables[2] = {{ids.begin(), ids.begin() + 10}, {ids.begin() + 10, ids.begin() + 16}};
  const size_t block_bytes = static_cast<size_t>(bs) * nkv * hd * dtype_size(pc.dtype);
  std::vector<uint8_t> kc(block_bytes * nb), vc(block_bytes * nb);
  PagedKvLayer kv{kc.data(), vc.data(), nb, bs, nkv, hd, pc.dtype};

  // Cache everything: seq 0's old tokens via a prefill "step", then the new tokens of both.
  std::vector<AttentionSeq> old{{0, first[0], 0, tables[0].data()}};
  write_kv(kv, old.data(), 1, keys[0].data(), vals[0].data());
  const int nt0 = lens[0] - first[0], nt1 = lens[1] - first[1], T = nt0 + nt1;
  std::vector<float> knew, vnew;
  for (int s = 0; s < 2; ++s) {
    const size_t row = static_cast<size_t>(nkv) * hd;
    knew.insert(knew.end(), keys[s].begin() + static_cast<long>(first[s] * row), keys[s].end());
    vnew.insert(vnew.end(), vals[s].begin() + static_cast<long>(first[s] * row), vals[s].end());
  }
  std::vector<AttentionSeq> seqs{{0, nt0, first[0], tables[0].data()}, {nt0, nt1, first[1], tables[1].data()}};
  write_kv(kv, seqs.data(), 2, knew.data(), vnew.data());

  const std::vector<float> q = randn(static_cast<size_t>(T) * nh * hd, rng);
  std::vector<float> out(q.size());
  AttentionParams p{nh, 0.25f, pc.softcap, pc.window};
  ThreadPool pool(2);
  paged_attention(kv, seqs.data(), 2, p, q.data(), out.data(), pool);

  auto round = [&](float x) {
    float y;
    convert_from_f32(pc.dtype, &x, &y, 1);  // y holds the stored bits; read them back
    float back;
    convert_to_f32(pc.dtype, &y, &back, 1);
    return back;
  };
  double worst = 0;
  for (int s = 0; s < 2; ++s) {
    const int nt = s == 0 ? nt0 : nt1;
    for (int i = 0; i < nt; ++i) {
      const int t = seqs[static_cast<size_t>(s)].token_begin + i, pos = first[s] + i;
      for (int h = 0; h < nh; ++h) {
        const int g = h / (nh / nkv);
        std::vector<double> sc;
        std::vector<int> js;
        for (int j = 0; j <= pos; ++j) {
          if (pc.window > 0 && j <= pos - pc.window) continue;
          double d = 0;
          for (int e = 0; e < hd; ++e)
            d += double(q[(static_cast<size_t>(t) * nh + h) * hd + e]) *
                 round(keys[s][(static_cast<size_t>(j) * nkv + g) * hd + e]);
          d *= p.scale;
          if (pc.softcap > 0) d = pc.softcap * std::tanh(d / pc.softcap);
          sc.push_back(d);
          js.push_back(j);
        }
        const double mx = *std::max_element(sc.begin(), sc.end());
        double z = 0;
        for (double& x : sc) z += (x = std::exp(x - mx));
        for (int e = 0; e < hd; ++e) {
          double o = 0;
          for (size_t k = 0; k < js.size(); ++k)
            o += sc[k] / z * round(vals[s][(static_cast<size_t>(js[k]) * nkv + g) * hd + e]);
          worst = std::max(worst, std::fabs(o - out[(static_cast<size_t>(t) * nh + h) * hd + e]));
        }
      }
    }
  }
  EXPECT_LT(worst, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(KvDtypesWindowsCaps, PagedAttention,
                         ::testing::Values(AttnCase{DType::F32, 0, 0.0f}, AttnCase{DType::BF16, 0, 0.0f},
                                           AttnCase{DType::F16, 0, 0.0f}, AttnCase{DType::F32, 5, 0.0f},
                                           AttnCase{DType::F32, 0, 2.0f}));

TEST(Rope, Llama3ScalingKeepsHighFrequenciesAndDividesLowOnes) {
  RopeParams p{16, 500000.0, RopeScaling::Llama3, 8.0, 1.0, 4.0, 64};
  const std::vector<double> inv = rope_inv_freq(p);
  RopeParams plain = p;
  plain.scaling = RopeScaling::None;
  const std::vector<double> base = rope_inv_freq(plain);
  ASSERT_EQ(inv.size(), 8u);
  EXPECT_DOUBLE_EQ(inv[0], base[0]);  // wavelength 6.3 < 64/4
  // wavelength 32.4 lies in the smooth band (16, 64]: interpolated between base/8 and base.
  const double smooth = (64.0 / (2 * std::numbers::pi / base[1]) - 1.0) / 3.0;
  EXPECT_NEAR(inv[1], (1 - smooth) * base[1] / 8 + smooth * base[1], 1e-15);
  for (size_t i = 2; i < 8; ++i) EXPECT_DOUBLE_EQ(inv[i], base[i] / 8);  // wavelength > 64
  RopeParams lin = plain;
  lin.scaling = RopeScaling::Linear;
  lin.factor = 4.0;
  EXPECT_DOUBLE_EQ(rope_inv_freq(lin)[3], base[3] / 4);
}

TEST(Rope, RotateHalfPairsDimIWithIPlusHalf) {
  const std::vector<double> inv = {1.0, 0.5};
  const int32_t pos[1] = {3};
  float c[2], s[2];
  rope_cos_sin(inv, pos, 1, c, s);
  float x[4] = {1, 2, 3, 4};
  apply_rope(x, 1, 1, 4, 4, c, s);
  EXPECT_NEAR(x[0], 1 * std::cos(3.0) - 3 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], 3 * std::cos(3.0) + 1 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[1], 2 * std::cos(1.5) - 4 * std::sin(1.5), 1e-6);
}

TEST(RmsNormAndSwiglu, MatchFormulas) {
  const float x[4] = {1, -2, 3, -4}, w[4] = {1, 2, 0.5f, 1};
  float y[4];
  rms_norm(x, w, 1, 4, 1e-6f, y);
  const double r = 1 / std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] * r * w[i], 1e-6);
  const float g[2] = {0.5f, -3.0f}, u[2] = {2.0f, 1.0f};
  float o[2];
  silu_mul(g, u, 2, o);
  EXPECT_NEAR(o[0], 0.5 / (1 + std::exp(-0.5)) * 2, 1e-6);
  EXPECT_NEAR(o[1], -3.0 / (1 + std::exp(3.0)), 1e-6);
}

}  // namespace
}  // namespace serval::cpu
