// Qwen2 forward pass against llama.cpp's logits for models/qwen2-tiny (shared golden data), plus the
// step-contract properties the engine relies on: batch invariance, chunked prefill, any block layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "test_paths.h"

namespace serval {
namespace {

using test::add_to_step;
using test::block_list;
using test::max_abs_diff;
using test::read_f32_file;
using test::run_prompt;
using test::TestSeq;

const char* kPrompts[] = {"p1_hello", "p2_fox", "p3_chatml", "p4_code", "p5_long"};

std::string golden() { return test::golden_dir() + "/qwen2-tiny/"; }
std::string model_dir() { return test::golden_dir() + "/models/qwen2-tiny"; }

nlohmann::json prompt_json(const std::string& name) {
  std::ifstream f(golden() + name + ".json");
  return nlohmann::json::parse(f);
}

std::vector<int32_t> prompt_ids(const std::string& name) {
  return prompt_json(name)["prompt_ids"].get<std::vector<int32_t>>();
}

class Qwen2Golden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test::golden_dir())) return;
    LoadOptions o;
    o.dtype = "float32";
    f32_ = Model::load(model_dir(), o).release();
    o.dtype = "bfloat16";
    bf16_ = Model::load(model_dir(), o).release();
  }
  static void TearDownTestSuite() {
    delete f32_;
    delete bf16_;
  }
  void SetUp() override { SERVAL_REQUIRE_GOLDEN(); }
  static Model* f32_;
  static Model* bf16_;
};
Model* Qwen2Golden::f32_ = nullptr;
Model* Qwen2Golden::bf16_ = nullptr;

TEST_F(Qwen2Golden, LoadsConfigAndDtype) {
  const ModelConfig& c = f32_->config();
  EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_TRUE(c.attention_qkv_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(f32_->dtype(), DType::F32);
  EXPECT_EQ(bf16_->dtype(), DType::BF16);
  EXPECT_EQ(f32_->generation_config().eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  EXPECT_EQ(f32_->kv_cache_shape(10, 16).dtype, DType::F32);
  // Tied: the embedding is counted once; f32 weights are the whole file minus header, roughly.
  EXPECT_GT(f32_->weight_bytes(), size_t{151936} * 64 * 4);
  EXPECT_LT(f32_->weight_bytes(), size_t{39195600});
  EXPECT_EQ(bf16_->weight_bytes() * 2, f32_->weight_bytes());
}

TEST_F(Qwen2Golden, LastLogitsMatchLlamaCppInFloat32) {
  for (const char* name : kPrompts) {
    const std::vector<float> ref = read_f32_file(golden() + name + ".last.f32");
    const std::vector<float> got = run_prompt(*f32_, prompt_ids(name));
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_LT(max_abs_diff(got.data(), ref.data(), ref.size()), 1e-4f) << name;
  }
}

TEST_F(Qwen2Golden, AllPositionLogitsMatchLlamaCpp) {
  for (const char* name : {"p1_hello", "p2_fox"}) {
    const std::vector<float> ref = read_f32_file(golden() + name + ".allpos.f32");
    const std::vector<float> got = run_prompt(*f32_, prompt_ids(name), /*all_positions=*/true);
    ASSERT_EQ(got.size(), ref.size()) << name;
    EXPECT_LT(max_abs_diff(got.data(), ref.data(), ref.size()), 1e-4f) << name;
  }
}

// Prompt in one step, then 16 one-token decode steps through the same KV cache.
std::vector<int32_t> greedy(Model& m, const std::vector<int32_t>& prompt, int steps) {
  const int bs = 16;
  const int nb = (static_cast<int>(prompt.size()) + steps) / bs + 2;
  KvCache kv(m.kv_cache_shape(nb, bs));
  std::vector<int32_t> free_blocks = block_list(nb);
  TestSeq seq{prompt, 0, {}};
  std::vector<int32_t> out;
  int count = static_cast<int>(prompt.size());
  for (int s = 0; s < steps; ++s) {
    ModelInputs in;
    add_to_step(in, seq, count, bs, free_blocks, false);
    ModelOutput o;
    m.forward(in, kv, o);
    const auto next = static_cast<int32_t>(test::argmax(o.logits.data(), o.vocab_size));
    out.push_back(next);
    seq.tokens.push_back(next);
    count = 1;
  }
  return out;
}

TEST_F(Qwen2Golden, GreedyContinuationsMatchLlamaCpp) {
  for (const char* name : kPrompts) {
    const nlohmann::json j = prompt_json(name);
    EXPECT_EQ(greedy(*f32_, prompt_ids(name), 16), j["greedy_ids"].get<std::vector<int32_t>>()) << name;
  }
}

std::vector<double> log_softmax(const std::vector<float>& v) {
  double mx = *std::max_element(v.begin(), v.end()), sum = 0;
  for (float x : v) sum += std::exp(x - mx);
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] - mx - std::log(sum);
  return out;
}

// bfloat16 weights + KV cache (8-bit mantissa, relative rounding <= 2^-9) on logits whose spread is ~0.16:
// measured max |Δ log-softmax| vs llama.cpp's f32 logits is 1.8e-3..2.8e-3 on the five prompts; 1e-2 allows
// ~3.5x that while a bf16 bug (e.g. a byte-swapped or truncated conversion) moves it by 0.1 or more.
// The top-1 id must agree wherever llama.cpp's top-1/top-2 margin is > 0.05 (>> bf16 noise).
TEST_F(Qwen2Golden, Bfloat16AgreesWithinBf16Tolerance) {
  for (const char* name : kPrompts) {
    const std::vector<float> ref = read_f32_file(golden() + name + ".last.f32");
    const std::vector<float> got = run_prompt(*bf16_, prompt_ids(name));
    const std::vector<double> a = log_softmax(ref), b = log_softmax(got);
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    EXPECT_LT(worst, 1e-2) << name;
    const double margin = prompt_json(name)["steps"][0]["margin_top1_top2"].get<double>();
    if (margin > 0.05) {
      EXPECT_EQ(test::argmax(got.data(), static_cast<int64_t>(got.size())),
                test::argmax(ref.data(), static_cast<int64_t>(ref.size())))
          << name;
    }
  }
}

TEST_F(Qwen2Golden, BatchedPromptsGiveSameLogitsAsAlone) {
  const std::vector<int32_t> a = prompt_ids("p2_fox"), b = prompt_ids("p4_code");
  const std::vector<float> alone_a = run_prompt(*f32_, a), alone_b = run_prompt(*f32_, b);
  const int bs = 16, nb = 8;
  KvCache kv(f32_->kv_cache_shape(nb, bs));
  std::vector<int32_t> free_blocks = block_list(nb);
  TestSeq sa{a, 0, {}}, sb{b, 0, {}};
  ModelInputs in;
  add_to_step(in, sa, static_cast<int>(a.size()), bs, free_blocks, false);
  add_to_step(in, sb, static_cast<int>(b.size()), bs, free_blocks, false);
  ModelOutput out;
  f32_->forward(in, kv, out);
  const size_t V = static_cast<size_t>(out.vocab_size);
  ASSERT_EQ(out.logits.size(), 2 * V);
  EXPECT_LE(max_abs_diff(out.logits.data(), alone_a.data(), V), 1e-6f);
  EXPECT_LE(max_abs_diff(out.logits.data() + V, alone_b.data(), V), 1e-6f);
}

TEST_F(Qwen2Golden, ChunkedPrefillMatchesOneStep) {
  const std::vector<int32_t> ids = prompt_ids("p5_long");
  const std::vector<float> ref = read_f32_file(golden() + "p5_long.last.f32");
  const std::vector<float> whole = run_prompt(*f32_, ids);
  const int bs = 16, nb = static_cast<int>(ids.size()) / bs + 2;
  KvCache kv(f32_->kv_cache_shape(nb, bs));
  std::vector<int32_t> free_blocks = block_list(nb);
  TestSeq seq{ids, 0, {}};
  ModelOutput out;
  const int n = static_cast<int>(ids.size());
  for (int chunk : {100, 301, n - 401}) {  // boundaries mid-block
    ModelInputs in;
    add_to_step(in, seq, chunk, bs, free_blocks, false);
    f32_->forward(in, kv, out);
  }
  EXPECT_LE(max_abs_diff(out.logits.data(), whole.data(), whole.size()), 1e-6f);
  EXPECT_LT(max_abs_diff(out.logits.data(), ref.data(), ref.size()), 1e-4f);
}

TEST_F(Qwen2Golden, ShuffledBlockTablesGiveIdenticalLogits) {
  const std::vector<int32_t> ids = prompt_ids("p3_chatml");  // 37 tokens: 5 blocks of 8
  const int bs = 8, nb = 40;
  const std::vector<float> contiguous = run_prompt(*f32_, ids, true, bs);
  std::vector<int32_t> shuffled = block_list(nb);
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  KvCache kv(f32_->kv_cache_shape(nb, bs));
  TestSeq seq{ids, 0, {}};
  ModelInputs in;
  add_to_step(in, seq, static_cast<int>(ids.size()), bs, shuffled, true);
  ModelOutput out;
  f32_->forward(in, kv, out);
  ASSERT_EQ(out.logits.size(), contiguous.size());
  EXPECT_EQ(out.logits, contiguous);
}

TEST_F(Qwen2Golden, RejectsInconsistentInputs) {
  KvCache kv(f32_->kv_cache_shape(4, 16));
  ModelInputs in;
  in.token_ids = {9707};
  in.positions = {0};
  in.seqs.push_back({0, 1, 0, {}});  // no block table
  in.logit_rows = {0};
  ModelOutput out;
  EXPECT_THROW(f32_->forward(in, kv, out), Error);
  in.seqs[0].block_table = {4};  // out of range
  EXPECT_THROW(f32_->forward(in, kv, out), Error);
  in.seqs[0].block_table = {0};
  in.token_ids = {151936};  // outside the vocabulary
  EXPECT_THROW(f32_->forward(in, kv, out), Error);
}

}  // namespace
}  // namespace serval
