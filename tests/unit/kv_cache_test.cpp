#include "kv/kv_cache.h"

#include <gtest/gtest.h>

#include <set>

namespace serval {
namespace {

TEST(KvCache, BlocksOfEveryLayerAndKindAreDisjoint) {
  KvCacheShape s{.num_layers = 3, .num_blocks = 5, .block_size = 4, .num_kv_heads = 2, .head_dim = 8, .dtype = DType::BF16};
  KvCache kv(s);
  EXPECT_EQ(s.bytes_per_token(), 2u * 3 * 2 * 8 * 2);
  EXPECT_EQ(kv.total_bytes(), s.bytes_per_block() * 5);
  const size_t one = s.bytes_per_block() / 2 / 3;
  std::set<const uint8_t*> starts;
  for (int l = 0; l < 3; ++l)
    for (int b = 0; b < 5; ++b) {
      starts.insert(kv.key_block(l, b));
      starts.insert(kv.value_block(l, b));
      EXPECT_LE(kv.value_block(l, b) + one, kv.key_block(0, 0) + kv.total_bytes());
    }
  EXPECT_EQ(starts.size(), 30u);
}

}  // namespace
}  // namespace serval
