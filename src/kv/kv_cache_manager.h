// KvCacheManager: the scheduler's only view of KV memory (vLLM v1's get_computed_blocks / allocate_slots /
// free): per-request block tables, prefix-cache lookups and caching of full computed blocks, usage and
// prefix-cache counters. With a sliding window on every layer (Phi-3, Mistral), blocks that fall wholly
// out of the window are released as the request advances (vLLM's SlidingWindowManager); models that mix
// full and sliding layers (Gemma-2) keep every block, since one block table serves all layers.
// NOTE: why a hit can never return another prefix's KV, even on a 64-bit hash collision: a hit on block i
// must match its tokens AND record as parent the exact caching event (cache_id, never reused) of the block
// matched at i-1, so by induction the whole prefix is equal token for token. Blocks are cached only after
// the step that computed them (cache_blocks), so a hit never reads K/V being written in the same step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"

namespace serval {

using RequestId = std::string;

struct KvCacheConfig {
  int num_blocks = 0;                       // KV blocks including the null block 0 (vLLM's num_gpu_blocks)
  int block_size = 16;                      // tokens per block
  bool enable_prefix_caching = true;        // false = --no-enable-prefix-caching: no lookups, no counters
  BlockHashFn hash_fn = hash_block_tokens;  // test hook: a weak hash forces collisions
  // > 0: EVERY layer attends only to the last sliding_window positions (a query at p sees (p - w, p]), so
  // blocks wholly before the window of a request's next token are released and replaced by the null block
  // in its table. 0: full attention (also for models that mix full and sliding layers).
  int sliding_window = 0;
};

// The longest cached prefix of a waiting request, from get_computed_blocks.
struct CachedPrefix {
  std::vector<int32_t> block_ids;   // cached blocks holding tokens [0, num_tokens), in order
  std::vector<uint64_t> cache_ids;  // [block_ids.size()] their cache_ids when found
  int num_tokens = 0;               // block_ids.size() * block_size
};

// Cumulative counters, in tokens (vllm:prefix_cache_queries / vllm:prefix_cache_hits).
struct PrefixCacheStats {
  int64_t num_requests = 0;  // admissions that looked up the cache
  int64_t queries = 0;       // sum of those requests' known tokens (prompt, + outputs after preemption)
  int64_t hits = 0;          // sum of tokens found in the cache
};

class KvCacheManager {
 public:
  explicit KvCacheManager(const KvCacheConfig& config);

  const KvCacheConfig& config() const { return config_; }
  const BlockPool& pool() const { return pool_; }

  // Longest cached prefix of token_ids in whole blocks, capped at token_ids.size() - 1 tokens so at least
  // one token is computed (its logits give the next token). Empty when caching is off. Changes nothing.
  CachedPrefix get_computed_blocks(std::span<const int32_t> token_ids) const;

  // Makes room for num_new_tokens more tokens of request_id after its num_computed_tokens, first adopting
  // `prefix` (a get_computed_blocks result, for an admission) as computed tokens. Returns false, changing
  // nothing else, when there are not enough free blocks. Counts a prefix-cache query when prefix is given.
  // With a sliding window, first releases the blocks no query from num_computed_tokens on can see (also
  // when it then returns false: they are never read again); adopted prefix blocks before the window are
  // not taken at all.
  // PRECONDITIONS: prefix given => request has no blocks and num_computed_tokens == 0;
  // num_computed_tokens + prefix tokens + num_new_tokens <= token_ids.size() (only known tokens).
  bool allocate_slots(const RequestId& request_id, std::span<const int32_t> token_ids,
                      int num_computed_tokens, int num_new_tokens, const CachedPrefix* prefix = nullptr);

  // Registers the request's full blocks within [0, num_computed_tokens) in the prefix cache (call after
  // the step that computed them). A block whose key is already cached with the same verified contents
  // stays uncached (the cached twin is reused by later requests); a true hash collision stops caching
  // the rest of this request's chain. No-op when caching is off.
  void cache_blocks(const RequestId& request_id, std::span<const int32_t> token_ids, int num_computed_tokens);

  // Releases the request's blocks, last block first, so that a prefix's tail is evicted before its head
  // (vLLM's order). No-op for a request without blocks.
  void free(const RequestId& request_id);

  // The request's block table (empty if it has none). With a sliding window, released blocks read as
  // BlockPool::kNullBlockId.
  const std::vector<int32_t>& block_ids(const RequestId& request_id) const;
  // vllm:kv_cache_usage_perc, a fraction in [0, 1]; cached-but-unreferenced blocks count as free.
  double usage() const { return pool_.usage(); }
  const PrefixCacheStats& prefix_cache_stats() const { return stats_; }
  int num_requests() const { return static_cast<int>(requests_.size()); }

 private:
  // One request's KV state.
  struct RequestBlocks {
    std::vector<int32_t> block_ids;         // block table: block i holds positions [i*bs, (i+1)*bs)
    std::vector<uint64_t> block_hashes;     // chained hashes of the full blocks cached (or twinned) so far
    std::vector<uint64_t> chain_cache_ids;  // [block_hashes.size()] cache_id of the verified cached block
                                            // holding each of those prefixes (own block or a twin)
    bool chain_broken = false;              // a hash collision stopped caching for this request
    int num_released = 0;                   // leading blocks released by the sliding window (now null)
  };

  // Releases the request's blocks [num_released, num_skipped_blocks) to the pool (last first).
  void release_skipped_blocks(RequestBlocks& rb, int num_skipped_blocks);

  KvCacheConfig config_;
  BlockPool pool_;
  std::unordered_map<RequestId, RequestBlocks> requests_;  // requests holding blocks
  PrefixCacheStats stats_;
};

}  // namespace serval
