// The Phi-3, Gemma-2 and Phi-2 paths on make-model's tiny presets against the independent float64 numpy
// forward (tests/model/reference/hf_forward.py): Phi-3 with longrope (short factors up to its original
// context of 32, long factors and the attention factor beyond) and a 24-token sliding window that the
// longer prompt exceeds; Gemma-2 with its window of 16 on layers 0 and 2 exceeded; Phi-2's partial rotary.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "model/make_model.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "test_paths.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

std::vector<float> reference_logits(const std::string& model_dir, const std::vector<int32_t>& ids,
                                    const std::string& out) {
  std::string list;
  for (int32_t id : ids) {
    if (!list.empty()) list += ',';
    list += std::to_string(id);
  }
  const std::string cmd = python() + " " + test::source_dir() + "/tests/model/reference/hf_forward.py " + model_dir +
                          " --ids " + list + " --out " + out;
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd << " failed (needs python3 with numpy: scripts/install-deps.sh)";
  return rc == 0 ? test::read_f32_file(out) : std::vector<float>{};
}

class FamilyReference : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("serval_famref_" + std::string(GetParam()) + "_" + std::to_string(::getpid()));
    make_model({GetParam(), "tiny", dir_.string(), 77, "float32"});
    LoadOptions o;
    o.dtype = "float32";
    model_ = Model::load(dir_.string(), o);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // All-position logits of n random ids against the reference, within 1e-4.
  void check_prompt(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& id : ids) id = static_cast<int32_t>(rng() % 32000);
    const std::vector<float> ref = reference_logits(dir_.string(), ids, (dir_ / "ref.f32").string());
    const std::vector<float> got = test::run_prompt(*model_, ids, /*all_positions=*/true);
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_LT(test::max_abs_diff(got.data(), ref.data(), ref.size()), 1e-4f) << n << " tokens";
  }

  fs::path dir_;
  std::unique_ptr<Model> model_;
};

TEST_P(FamilyReference, ShortPromptMatchesReference) { check_prompt(20, 3); }

// Past every tiny preset's sliding window (phi3 24, gemma2 16) and phi3's original context (32).
TEST_P(FamilyReference, PromptLongerThanTheWindowMatchesReference) { check_prompt(45, 4); }

INSTANTIATE_TEST_SUITE_P(Tiny, FamilyReference, ::testing::Values("phi3", "gemma2", "phi2"));

// What KvCacheManager's sliding-window release relies on: blocks wholly before the window of the first
// token of a step are never read. The tiny phi3 (window 24 on every layer) decodes with those blocks
// replaced by the null block 0 and their memory poisoned with NaN, and gives the logits of a full table.
TEST(FamilyReferenceWindow, Phi3NeverReadsBlocksBeforeTheWindow) {
  const fs::path dir = fs::temp_directory_path() / ("serval_famwin_" + std::to_string(::getpid()));
  make_model({"phi3", "tiny", dir.string(), 9, "float32"});
  LoadOptions o;
  o.dtype = "float32";
  auto m = Model::load(dir.string(), o);
  const int W = m->config().uniform_sliding_window();
  ASSERT_EQ(W, 24);
  std::mt19937 rng(11);
  std::vector<int32_t> prompt(40);
  for (auto& id : prompt) id = static_cast<int32_t>(rng() % 32000);
  const std::vector<int32_t> expected = test::greedy_ids(*m, prompt, 12, 8);

  const int bs = 8, nb = 16;
  KvCache kv(m->kv_cache_shape(nb, bs));
  std::vector<int32_t> free_blocks = test::block_list(nb);
  free_blocks.pop_back();  // block 0 is the null block: never handed out
  const size_t block_floats = static_cast<size_t>(bs) * m->config().num_key_value_heads * m->config().head_dim;
  auto poison = [&](int32_t id) {
    for (int l = 0; l < m->config().num_hidden_layers; ++l) {
      std::fill_n(reinterpret_cast<float*>(kv.key_block(l, id)), block_floats, std::nanf(""));
      std::fill_n(reinterpret_cast<float*>(kv.value_block(l, id)), block_floats, std::nanf(""));
    }
  };
  poison(0);
  test::TestSeq seq{prompt, 0, {}};
  std::vector<int32_t> got;
  int count = static_cast<int>(prompt.size());
  for (int s = 0; s < 12; ++s) {
    // Release as KvCacheManager does for the first position computed in this step.
    const int skipped = std::max(0, seq.num_computed - W + 1) / bs;
    for (int b = 0; b < skipped && b < static_cast<int>(seq.block_table.size()); ++b) {
      if (seq.block_table[static_cast<size_t>(b)] == 0) continue;
      poison(seq.block_table[static_cast<size_t>(b)]);
      seq.block_table[static_cast<size_t>(b)] = 0;
    }
    ModelInputs in;
    test::add_to_step(in, seq, count, bs, free_blocks, false);
    ModelOutput out;
    m->forward(in, kv, out);
    for (float x : out.logits) ASSERT_TRUE(std::isfinite(x)) << "step " << s;
    const auto next = static_cast<int32_t>(test::argmax(out.logits.data(), out.vocab_size));
    got.push_back(next);
    seq.tokens.push_back(next);
    count = 1;
  }
  EXPECT_EQ(got, expected);
  fs::remove_all(dir);
}

TEST(FamilyReferenceConfig, TinyPhi3TakesLongropeAndWindowPaths) {
  const ModelConfig c = parse_model_config(nlohmann::json::parse(make_model_config_json("phi3", "tiny", "float32")),
                                           "phi3/tiny");
  ASSERT_EQ(c.rope_scaling, RopeScalingKind::LongRope);
  EXPECT_EQ(c.rope_original_max_position, 32);
  EXPECT_NEAR(c.rope_attention_factor, std::sqrt(1.0 + std::log(4.0) / std::log(32.0)), 1e-12);  // 128 / 32
  EXPECT_EQ(c.sliding_window, (std::vector<int>{24, 24}));
  EXPECT_EQ(c.num_queries_per_kv(), 2);
}

}  // namespace
}  // namespace serval
