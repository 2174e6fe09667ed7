// BlockPool: exact block ids handed out, reference counts, LRU eviction of cached blocks, verified lookups.
#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace serval {
namespace {

using Ids = std::vector<int32_t>;

TEST(BlockPool, HandsOutIdsFromOneUpwardsAndNeverTheNullBlock) {
  BlockPool pool(5);
  EXPECT_EQ(pool.num_usable_blocks(), 4);
  EXPECT_EQ(pool.num_free_blocks(), 4);
  EXPECT_EQ(pool.get_new_blocks(2), (Ids{1, 2}));
  EXPECT_EQ(pool.get_new_blocks(2), (Ids{3, 4}));
  EXPECT_EQ(pool.num_free_blocks(), 0);
  EXPECT_DOUBLE_EQ(pool.usage(), 1.0);
  EXPECT_THROW(pool.get_new_blocks(1), std::logic_error);
}

TEST(BlockPool, FreedUncachedBlocksRejoinAtTheBackInFreeOrder) {
  BlockPool pool(6);               // usable 1..5
  Ids a = pool.get_new_blocks(3);  // 1 2 3
  pool.free_blocks(Ids{3, 1});     // free list: 4 5 3 1
  EXPECT_EQ(pool.block(2).ref_count, 1);
  EXPECT_EQ(pool.block(3).ref_count, 0);
  EXPECT_EQ(pool.get_new_blocks(4), (Ids{4, 5, 3, 1}));
  EXPECT_THROW(pool.free_blocks(Ids{0}), std::logic_error);
}

TEST(BlockPool, RefCountsKeepSharedBlocksOutOfTheFreeCount) {
  BlockPool pool(4);
  Ids a = pool.get_new_blocks(1);  // block 1
  const std::vector<int32_t> tokens{7, 8};
  pool.cache_block(1, 0xabc, 0, tokens);
  pool.touch(a);
  EXPECT_EQ(pool.block(1).ref_count, 2);
  pool.free_blocks(a);
  EXPECT_EQ(pool.block(1).ref_count, 1);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  pool.free_blocks(a);
  EXPECT_EQ(pool.block(1).ref_count, 0);
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_EQ(pool.num_evictable_blocks(), 1);
  EXPECT_DOUBLE_EQ(pool.usage(), 0.0);
  EXPECT_THROW(pool.free_blocks(a), std::logic_error);
}

TEST(BlockPool, CachedBlocksAreEvictedOnlyWhenTheFreeListIsEmptyLeastRecentlyFreedFirst) {
  BlockPool pool(5);                 // usable 1..4
  Ids got = pool.get_new_blocks(3);  // 1 2 3
  const std::vector<int32_t> t{1, 2};
  pool.cache_block(1, 11, 0, t);
  pool.cache_block(2, 22, 0, t);
  pool.cache_block(3, 33, 0, t);
  pool.free_blocks(Ids{2, 3, 1});  // LRU: 2 3 1
  EXPECT_EQ(pool.num_free_blocks(), 4);
  EXPECT_EQ(pool.get_new_blocks(1), (Ids{4}));  // the never-cached block first
  EXPECT_TRUE(pool.has_hash(22));
  EXPECT_EQ(pool.get_new_blocks(1), (Ids{2}));  // then the least recently freed cached block
  EXPECT_FALSE(pool.has_hash(22));
  EXPECT_FALSE(pool.block(2).cached);
  // A hit on block 1 takes it out of the LRU: block 3 is evicted next.
  pool.touch(Ids{1});
  EXPECT_EQ(pool.get_new_blocks(1), (Ids{3}));
  EXPECT_TRUE(pool.has_hash(11));
  EXPECT_FALSE(pool.has_hash(33));
  EXPECT_EQ(pool.num_free_blocks(), 0);
}

TEST(BlockPool, LookupVerifiesParentAndTokensSoACollisionIsAMiss) {
  BlockPool pool(4);
  pool.get_new_blocks(2);
  const std::vector<int32_t> t{5, 6, 7};
  const uint64_t cid1 = pool.cache_block(1, 100, 0, t);
  const uint64_t cid2 = pool.cache_block(2, 200, cid1, t);
  EXPECT_NE(cid1, cid2);
  EXPECT_EQ(pool.find_cached(100, 0, t), 1);
  EXPECT_EQ(pool.find_cached(200, cid1, t), 2);
  EXPECT_EQ(pool.find_cached(200, cid2, t), -1);                           // wrong parent
  EXPECT_EQ(pool.find_cached(100, 0, std::vector<int32_t>{5, 6, 8}), -1);  // same hash, other tokens
  EXPECT_EQ(pool.find_cached(300, 0, t), -1);
  EXPECT_THROW(pool.cache_block(3, 100, 0, t), std::logic_error);  // block 3 not in use
}

}  // namespace
}  // namespace serval
