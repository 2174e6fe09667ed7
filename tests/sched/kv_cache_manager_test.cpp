// KvCacheManager: block tables, prefix hits on exactly the expected blocks, token counters, eviction order
// after frees, collision safety, --no-enable-prefix-caching. Block size 4 throughout.
#include "kv/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"

namespace serval {
namespace {

using Ids = std::vector<int32_t>;

Ids iota(int n, int start = 0) {
  Ids v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}
Ids concat(Ids a, const Ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Admits a request the way the scheduler does: look up the cache, then allocate the rest of the prompt.
bool admit(KvCacheManager& kv, const RequestId& id, const Ids& tokens) {
  const CachedPrefix p = kv.get_computed_blocks(tokens);
  return kv.allocate_slots(id, tokens, 0, static_cast<int>(tokens.size()) - p.num_tokens, &p);
}

KvCacheConfig config(int num_blocks, bool caching = true) {
  return KvCacheConfig{.num_blocks = num_blocks, .block_size = 4, .enable_prefix_caching = caching};
}

TEST(KvCacheManager, RejectsTooFewBlocks) {
  EXPECT_THROW(KvCacheManager(config(1)), Error);
  EXPECT_THROW(KvCacheManager(KvCacheConfig{.num_blocks = 8, .block_size = 0}), Error);
}

TEST(KvCacheManager, GrowsTheBlockTableOneBlockPerBlockSizeTokens) {
  KvCacheManager kv(config(10));
  Ids t = iota(10);
  ASSERT_TRUE(admit(kv, "a", t));
  EXPECT_EQ(kv.block_ids("a"), (Ids{1, 2, 3}));
  EXPECT_DOUBLE_EQ(kv.usage(), 3.0 / 9.0);
  t.push_back(10);
  ASSERT_TRUE(kv.allocate_slots("a", t, 10, 1));  // 11 tokens still fit in 3 blocks
  t.push_back(11);
  ASSERT_TRUE(kv.allocate_slots("a", t, 11, 1));  // 12
  EXPECT_EQ(kv.block_ids("a"), (Ids{1, 2, 3}));
  t.push_back(12);
  ASSERT_TRUE(kv.allocate_slots("a", t, 12, 1));  // 13 -> a 4th block
  EXPECT_EQ(kv.block_ids("a"), (Ids{1, 2, 3, 4}));
  EXPECT_THROW(kv.allocate_slots("a", t, 13, 1), std::logic_error);  // beyond the known tokens
  kv.free("a");
  EXPECT_TRUE(kv.block_ids("a").empty());
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
}

TEST(KvCacheManager, SecondRequestReusesTheCachedFullBlocksOfASharedPrefix) {
  KvCacheManager kv(config(10));
  const Ids a = iota(10);  // blocks [0..3] [4..7] [8 9]
  ASSERT_TRUE(admit(kv, "a", a));
  kv.cache_blocks("a", a, 10);  // after the step: the two full blocks are cached
  EXPECT_TRUE(kv.pool().block(1).cached);
  EXPECT_TRUE(kv.pool().block(2).cached);
  EXPECT_FALSE(kv.pool().block(3).cached);

  const Ids b = concat(iota(8), {100, 101, 102});
  const CachedPrefix p = kv.get_computed_blocks(b);
  EXPECT_EQ(p.block_ids, (Ids{1, 2}));
  EXPECT_EQ(p.num_tokens, 8);
  ASSERT_TRUE(kv.allocate_slots("b", b, 0, 3, &p));
  EXPECT_EQ(kv.block_ids("b"), (Ids{1, 2, 4}));
  EXPECT_EQ(kv.pool().block(1).ref_count, 2);
  EXPECT_EQ(kv.pool().block(2).ref_count, 2);
  EXPECT_EQ(kv.prefix_cache_stats().num_requests, 2);
  EXPECT_EQ(kv.prefix_cache_stats().queries, 10 + 11);
  EXPECT_EQ(kv.prefix_cache_stats().hits, 8);

  // Never the whole prompt: an 8-token prompt that is fully cached only gets its first block.
  EXPECT_EQ(kv.get_computed_blocks(iota(8)).block_ids, (Ids{1}));
  // A different first block breaks the chain even when later blocks match.
  EXPECT_TRUE(kv.get_computed_blocks(concat({9, 9, 9, 9}, iota(8, 4))).block_ids.empty());

  kv.free("a");
  kv.free("b");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
  EXPECT_EQ(kv.pool().num_evictable_blocks(), 2);
}

TEST(KvCacheManager, FreeOrderEvictsThePrefixTailBeforeItsHead) {
  KvCacheManager kv(config(5));  // usable 1..4
  const Ids a = iota(9);
  ASSERT_TRUE(admit(kv, "a", a));  // 1 2 3
  kv.cache_blocks("a", a, 9);      // 1 and 2 cached
  kv.free("a");                    // reversed: 3 -> free list; 2, 1 -> LRU in that order
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
  ASSERT_TRUE(admit(kv, "b", iota(12, 50)));  // 3 new blocks: free list 4, 3, then evict 2
  EXPECT_EQ(kv.block_ids("b"), (Ids{4, 3, 2}));
  const CachedPrefix p = kv.get_computed_blocks(a);
  EXPECT_EQ(p.block_ids, (Ids{1}));  // the head of a's prefix survived
  EXPECT_EQ(p.num_tokens, 4);
}

TEST(KvCacheManager, FailedAllocationChangesNothingAndHitBlocksInTheLruAreNotCountedTwice) {
  KvCacheManager kv(config(5));  // usable 1..4
  const Ids a = iota(9);
  ASSERT_TRUE(admit(kv, "a", a));
  kv.cache_blocks("a", a, 9);
  kv.free("a");  // free list 4 3, LRU 2 1: 4 free in all, 2 of them are a's prefix
  // 8 cached + 8 new tokens: 2 hit blocks + 2 new = 4 blocks: fits.
  ASSERT_TRUE(admit(kv, "b", concat(iota(8), iota(8, 100))));
  EXPECT_EQ(kv.block_ids("b"), (Ids{1, 2, 4, 3}));
  kv.free("b");
  // 8 cached + 12 new: 2 hits + 3 new = 5 > 4 usable.
  const Ids c = concat(iota(8), iota(12, 200));
  const auto before = kv.prefix_cache_stats();
  EXPECT_FALSE(admit(kv, "c", c));
  EXPECT_TRUE(kv.block_ids("c").empty());
  EXPECT_EQ(kv.pool().num_free_blocks(), 4);
  EXPECT_EQ(kv.pool().block(1).ref_count, 0);
  EXPECT_EQ(kv.prefix_cache_stats().queries, before.queries);  // a failed admission is not a query
}

TEST(KvCacheManager, ConcurrentTwinPrefixesStayCorrectAndLaterBlocksChainThroughTheTwin) {
  KvCacheManager kv(config(12));
  const Ids prompt = iota(9);
  ASSERT_TRUE(admit(kv, "a", prompt));  // 1 2 3
  ASSERT_TRUE(admit(kv, "b", prompt));  // admitted in the same step, before anything was cached: 4 5 6
  EXPECT_EQ(kv.block_ids("b"), (Ids{4, 5, 6}));
  kv.cache_blocks("a", prompt, 9);
  kv.cache_blocks("b", prompt, 9);  // same contents already cached by a: b's copies stay uncached
  EXPECT_FALSE(kv.pool().block(4).cached);
  Ids bt = concat(prompt, {70, 71, 72});  // b decodes to 12 tokens: its block 6 becomes full
  ASSERT_TRUE(kv.allocate_slots("b", bt, 9, 3));
  kv.cache_blocks("b", bt, 12);
  EXPECT_TRUE(kv.pool().block(6).cached);
  const CachedPrefix p = kv.get_computed_blocks(concat(bt, {1}));
  EXPECT_EQ(p.block_ids, (Ids{1, 2, 6}));
  kv.free("a");
  kv.free("b");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
}

uint64_t constant_hash(uint64_t, std::span<const int32_t>) {
  return 42;
}

TEST(KvCacheManager, HashCollisionsNeverReturnAnotherPrefixesBlocks) {
  KvCacheConfig c = config(10);
  c.hash_fn = constant_hash;  // every block of every prefix collides
  KvCacheManager kv(c);
  const Ids a = concat({1, 2, 3, 4}, {5, 6, 7, 8, 9});
  ASSERT_TRUE(admit(kv, "a", a));
  kv.cache_blocks("a", a, 9);
  EXPECT_TRUE(kv.pool().block(1).cached);
  EXPECT_FALSE(kv.pool().block(2).cached);  // its key collides with block 1's: the chain stops here
  EXPECT_TRUE(kv.get_computed_blocks(Ids{9, 9, 9, 9, 1}).block_ids.empty());  // same key, other tokens
  EXPECT_EQ(kv.get_computed_blocks(a).block_ids, (Ids{1}));                   // genuine hit still works
  kv.free("a");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
}

TEST(KvCacheManager, NoPrefixCachingNeverHitsNorCountsAndRecyclesBlocksFifo) {
  KvCacheManager kv(config(6, false));
  const Ids a = iota(9);
  ASSERT_TRUE(admit(kv, "a", a));  // 1 2 3
  kv.cache_blocks("a", a, 9);
  EXPECT_FALSE(kv.pool().block(1).cached);
  kv.free("a");  // free list: 4 5 3 2 1
  EXPECT_TRUE(kv.get_computed_blocks(a).block_ids.empty());
  ASSERT_TRUE(admit(kv, "b", a));
  EXPECT_EQ(kv.block_ids("b"), (Ids{4, 5, 3}));
  EXPECT_EQ(kv.prefix_cache_stats().queries, 0);
  EXPECT_EQ(kv.prefix_cache_stats().hits, 0);
  kv.free("b");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
}

}  // namespace
}  // namespace serval

namespace serval {
namespace {

TEST(BlockHash, ChainsFullBlocksOnlyAndDependsOnTheParent) {
  const std::vector<int32_t> t{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const auto h = hash_full_blocks(t, 4);
  ASSERT_EQ(h.size(), 2u);  // the partial block [9] has no hash
  EXPECT_EQ(h[0], hash_block_tokens(kRootBlockHash, std::span(t).subspan(0, 4)));
  EXPECT_EQ(h[1], hash_block_tokens(h[0], std::span(t).subspan(4, 4)));
  EXPECT_NE(hash_block_tokens(h[0], std::span(t).subspan(0, 4)), h[0]);  // same tokens, other parent
  const std::vector<int32_t> swapped{2, 1, 3, 4};
  EXPECT_NE(hash_block_tokens(kRootBlockHash, swapped), h[0]);
}

}  // namespace
}  // namespace serval

namespace serval {
namespace {

// Sliding window 8, block size 4: a query at p sees (p - 8, p]; block i is released once every query from
// the next computed token on starts after it: (i + 1) * 4 <= first_position - 8 + 1.
KvCacheConfig window_config(int num_blocks, bool caching = true) {
  KvCacheConfig c = config(num_blocks, caching);
  c.sliding_window = 8;
  return c;
}

TEST(KvCacheManagerSlidingWindow, ReleasesBlocksThatLeaveTheWindowAndReusesThem) {
  KvCacheManager kv(window_config(6, /*caching=*/false));  // 5 usable blocks
  Ids t = iota(10);
  ASSERT_TRUE(admit(kv, "a", t));
  EXPECT_EQ(kv.block_ids("a"), (Ids{1, 2, 3}));
  t.push_back(10);
  ASSERT_TRUE(kv.allocate_slots("a", t, 10, 1));  // query at 10 sees 3..10: block 0 (0..3) still needed
  EXPECT_EQ(kv.block_ids("a"), (Ids{1, 2, 3}));
  t.push_back(11);
  ASSERT_TRUE(kv.allocate_slots("a", t, 11, 1));  // query at 11 sees 4..11: block 0 released
  EXPECT_EQ(kv.block_ids("a"), (Ids{0, 2, 3}));
  EXPECT_EQ(kv.pool().num_free_blocks(), 3);
  EXPECT_DOUBLE_EQ(kv.usage(), 2.0 / 5.0);
  // 60 more decode steps in 5 usable blocks: never more than the 3 blocks an 8-token window can touch.
  for (int n = 12; n < 72; ++n) {
    t.push_back(n);
    ASSERT_TRUE(kv.allocate_slots("a", t, n, 1)) << n;
    int live = 0;
    for (int32_t id : kv.block_ids("a")) live += id != BlockPool::kNullBlockId;
    ASSERT_LE(live, 3) << n;
  }
  const Ids& table = kv.block_ids("a");
  ASSERT_EQ(table.size(), 18u);  // positions 0..71
  EXPECT_EQ(Ids(table.begin(), table.begin() + 16), Ids(16, BlockPool::kNullBlockId));  // query 71 sees 64..71
  EXPECT_NE(table[16], BlockPool::kNullBlockId);
  EXPECT_NE(table[17], BlockPool::kNullBlockId);
  kv.free("a");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
  EXPECT_EQ(kv.pool().num_free_blocks(), 5);
}

TEST(KvCacheManagerSlidingWindow, WithoutAWindowTheSameRequestRunsOutOfBlocks) {
  KvCacheManager kv(config(6, /*caching=*/false));
  Ids t = iota(10);
  ASSERT_TRUE(admit(kv, "a", t));
  int n = 10;
  for (; n < 72; ++n) {
    t.push_back(n);
    if (!kv.allocate_slots("a", t, n, 1)) break;
  }
  EXPECT_EQ(n, 20);  // 5 blocks hold positions 0..19
}

TEST(KvCacheManagerSlidingWindow, PrefixHitSkipsBlocksBeforeTheWindowAndKeepsThemCached) {
  KvCacheManager kv(window_config(10));
  const Ids a = iota(13);
  ASSERT_TRUE(admit(kv, "a", a));  // blocks 1 2 3 4
  kv.cache_blocks("a", a, 13);     // caches 1 2 3
  kv.free("a");
  const Ids b = concat(iota(12), Ids{100, 101});
  const CachedPrefix p = kv.get_computed_blocks(b);
  ASSERT_EQ(p.block_ids, (Ids{1, 2, 3}));
  // First computed position 12 sees 5..12: block 0 is not taken, block 1 is (position 5..7 are in view).
  ASSERT_TRUE(kv.allocate_slots("b", b, 0, 2, &p));
  EXPECT_EQ(kv.block_ids("b")[0], BlockPool::kNullBlockId);
  EXPECT_EQ(Ids(kv.block_ids("b").begin() + 1, kv.block_ids("b").begin() + 3), (Ids{2, 3}));
  EXPECT_EQ(kv.pool().block(1).ref_count, 0);
  EXPECT_TRUE(kv.pool().block(1).cached);  // still answers later hits
  EXPECT_EQ(kv.pool().block(2).ref_count, 1);
  EXPECT_EQ(kv.prefix_cache_stats().hits, 12);
  kv.cache_blocks("b", b, 14);  // nothing new: the 3 full blocks are the adopted ones
  kv.free("b");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
  EXPECT_EQ(kv.get_computed_blocks(concat(b, Ids{7})).block_ids.size(), 3u);
}

TEST(KvCacheManagerSlidingWindow, BlocksReleasedBeforeCachingStopTheChain) {
  KvCacheManager kv(window_config(10));
  Ids t = iota(12);
  ASSERT_TRUE(admit(kv, "a", t));
  t.push_back(12);
  ASSERT_TRUE(kv.allocate_slots("a", t, 12, 1));  // releases block 0 before any cache_blocks call
  kv.cache_blocks("a", t, 13);
  EXPECT_TRUE(kv.get_computed_blocks(t).block_ids.empty());
  EXPECT_FALSE(kv.pool().block(2).cached);  // nothing after the released block is cached
  kv.free("a");
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
}

}  // namespace
}  // namespace serval
