#include "planner/capacity.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace serval {
namespace {

KvLayout qwen25_15b() { return KvLayout{.num_layers = 28, .num_kv_heads = 2, .head_dim = 128, .dtype_bytes = 2}; }

TEST(Capacity, KvBytesPerTokenMatchesPublishedFigures) {
  EXPECT_EQ(kv_bytes_per_token(qwen25_15b()), 28u * 1024);                                       // 28 KiB
  EXPECT_EQ(kv_bytes_per_token({.num_layers = 32, .num_kv_heads = 32, .head_dim = 96}), 384u * 1024);  // Phi-3-mini
  EXPECT_EQ(kv_bytes_per_token({.num_layers = 32, .num_kv_heads = 32, .head_dim = 80}), 320u * 1024);  // phi-2
}

TEST(Capacity, BudgetIsUtilizationMinusWeightsAndActivations) {
  CapacityInputs in;
  in.device_memory_bytes = 80ull << 30;
  in.gpu_memory_utilization = 0.5;
  in.weights_bytes = 3ull << 30;
  in.activation_bytes = 1ull << 30;
  in.block_size = 16;
  in.max_model_len = 4096;
  CapacityPlan p = plan_capacity(qwen25_15b(), in);
  EXPECT_EQ(p.kv_cache_bytes, static_cast<int64_t>(36ull << 30));
  EXPECT_EQ(p.bytes_per_block, 28u * 1024 * 16);
  EXPECT_EQ(p.num_blocks, (36ll << 30) / (28 * 1024 * 16));
  EXPECT_EQ(p.kv_tokens, p.num_blocks * 16);
  EXPECT_EQ(p.blocks_per_request, 256);
  EXPECT_DOUBLE_EQ(p.max_concurrency, static_cast<double>(p.num_blocks) / 256.0);
  EXPECT_TRUE(p.fits_one_request);
  EXPECT_EQ(format_kv_cache_size_line(p), "KV cache size: " + with_thousands(p.kv_tokens) + " tokens");
}

TEST(Capacity, ExplicitKvMemoryWinsAndTooSmallIsReported) {
  CapacityInputs in;
  in.device_memory_bytes = 1ull << 30;
  in.kv_cache_memory = 28u * 1024 * 16 * 10;  // 10 blocks
  in.max_model_len = 200;                       // needs 13 blocks
  CapacityPlan p = plan_capacity(qwen25_15b(), in);
  EXPECT_EQ(p.num_blocks, 10);
  EXPECT_FALSE(p.fits_one_request);
  std::string msg = format_does_not_fit_message(p, 200);
  EXPECT_NE(msg.find("(200)"), std::string::npos);
  EXPECT_NE(msg.find("160"), std::string::npos);  // estimated max model len = 10 blocks x 16
  EXPECT_NE(msg.find("--max-model-len"), std::string::npos);
  EXPECT_NE(msg.find("--gpu-memory-utilization"), std::string::npos);
}

TEST(Capacity, FormatsLikeVllm) {
  CapacityPlan p;
  p.max_concurrency = 775.2249;
  EXPECT_EQ(format_max_concurrency_line(p, 2048), "Maximum concurrency for 2,048 tokens per request: 775.22x");
  EXPECT_EQ(with_thousands(1587648), "1,587,648");
  EXPECT_EQ(with_thousands(12), "12");
  EXPECT_EQ(format_gib(33.31 * 1024 * 1024 * 1024), "33.31 GiB");
}

TEST(Capacity, ParsesSizesAndHumanInts) {
  EXPECT_EQ(parse_memory_size("16GiB"), 16ull << 30);
  EXPECT_EQ(parse_memory_size("8G"), 8000000000ull);
  EXPECT_EQ(parse_memory_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("1024"), 1024u);
  EXPECT_THROW(parse_memory_size("lots"), Error);
  EXPECT_THROW(parse_memory_size("3 parsecs"), Error);
  EXPECT_EQ(parse_human_int("4k"), 4000);
  EXPECT_EQ(parse_human_int("4K"), 4096);
  EXPECT_EQ(parse_human_int("25.6k"), 25600);
  EXPECT_EQ(parse_human_int("32768"), 32768);
  EXPECT_THROW(parse_human_int("4x"), Error);
  EXPECT_THROW(parse_human_int("-3"), Error);
}

}  // namespace
}  // namespace serval
