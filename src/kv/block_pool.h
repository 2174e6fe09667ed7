// BlockPool: who owns each KV block id. Reference counts, a free list of never-cached blocks, an LRU of
// cached-but-unreferenced blocks (evicted only when the free list is empty), and the prefix-cache index
// (block hash -> block) with exact verification on every hit. Pure bookkeeping: the data is in KvCache.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace serval {

// Bookkeeping for one block id.
struct KvBlock {
  int32_t block_id = 0;            // index into KvCache
  int32_t ref_count = 0;           // number of live requests whose block table holds this block
  bool cached = false;             // true while registered in the prefix-cache index (contents immutable)
  uint64_t hash = 0;               // chained block hash (block_hash.h); meaningful only when cached
  uint64_t cache_id = 0;           // unique, never-reused id of this caching event; 0 when not cached
  uint64_t parent_cache_id = 0;    // cache_id of the previous block of the prefix when this was cached;
                                   // 0 for a sequence's first block
  std::vector<int32_t> token_ids;  // [block_size] the block's tokens while cached (for verification)
};

class BlockPool {
 public:
  // Block 0 is the null block (as in vLLM): never handed out, never freed, so a block table can be
  // padded with 0 (e.g. for fixed-shape CUDA graphs). Usable blocks are 1..num_blocks-1.
  static constexpr int32_t kNullBlockId = 0;

  // PRECONDITION: num_blocks >= 2.
  explicit BlockPool(int num_blocks);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }  // including the null block
  int num_usable_blocks() const { return num_blocks() - 1; }
  // Blocks get_new_blocks can hand out now: free list + evictable cached blocks.
  int num_free_blocks() const { return static_cast<int>(free_list_.size() + lru_.size()); }
  int num_evictable_blocks() const { return static_cast<int>(lru_.size()); }
  // Fraction of usable blocks referenced by a request, in [0, 1] (vllm:kv_cache_usage_perc).
  double usage() const;
  const KvBlock& block(int32_t block_id) const { return blocks_.at(block_id); }

  // Hands out n blocks with ref_count 1. Order: the free list front first (initially ids 1, 2, 3, ...;
  // freed uncached blocks rejoin at the back), then, only when the free list is empty, the least recently
  // freed cached block (its hash is dropped). PRECONDITION: n <= num_free_blocks().
  std::vector<int32_t> get_new_blocks(int n);
  // ref_count += 1 for each block (a prefix-cache hit); a block with ref_count 0 leaves the LRU.
  // PRECONDITION: each id is a usable block, cached if its ref_count is 0.
  void touch(std::span<const int32_t> block_ids);
  // ref_count -= 1 for each block, in the given order; a block reaching 0 goes to the BACK of the LRU if
  // cached (evicted after blocks freed earlier), else to the back of the free list.
  // PRECONDITION: each ref_count > 0.
  void free_blocks(std::span<const int32_t> block_ids);

  // The cached block with this hash whose parent is parent_cache_id and whose tokens equal token_ids,
  // or -1. A hash match failing either check (a collision) counts as a miss.
  int32_t find_cached(uint64_t hash, uint64_t parent_cache_id, std::span<const int32_t> token_ids) const;
  // True when some block is cached under this hash (verified or not).
  bool has_hash(uint64_t hash) const { return index_.contains(hash); }
  // Registers a full, computed block in the index and returns its new cache_id. One block per hash: the
  // caller checks has_hash first. PRECONDITION: ref_count > 0, not cached, !has_hash(hash).
  uint64_t cache_block(int32_t block_id, uint64_t hash, uint64_t parent_cache_id,
                       std::span<const int32_t> token_ids);

 private:
  void uncache(KvBlock& b);

  std::vector<KvBlock> blocks_;                        // [num_blocks], indexed by block id
  std::list<int32_t> free_list_;                       // uncached, unreferenced blocks; front = next
  std::list<int32_t> lru_;                             // cached, unreferenced blocks; front = evict next
  std::vector<std::list<int32_t>::iterator> lru_pos_;  // [num_blocks] position in lru_ (valid if in it)
  std::unordered_map<uint64_t, int32_t> index_;        // block hash -> cached block id
  uint64_t next_cache_id_ = 1;                         // cache_id for the next cache_block call
};

}  // namespace serval
