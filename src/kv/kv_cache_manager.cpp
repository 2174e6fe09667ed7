// KvCacheManager: block tables, prefix-cache lookup/adoption/caching, sliding-window release, and freeing
// in eviction order.
#include "kv/kv_cache_manager.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"

namespace serval {

namespace {
int cdiv(int64_t a, int b) {
  return static_cast<int>((a + b - 1) / b);
}

int checked_num_blocks(const KvCacheConfig& c) {
  check(c.block_size > 0, "block_size must be > 0, got " + std::to_string(c.block_size));
  check(c.num_blocks >= 2,
        "The KV cache needs at least 2 blocks (block 0 is reserved), got " + std::to_string(c.num_blocks));
  return c.num_blocks;
}
}  // namespace

KvCacheManager::KvCacheManager(const KvCacheConfig& config)
    : config_(config), pool_(checked_num_blocks(config)) {
  if (config_.hash_fn == nullptr) config_.hash_fn = hash_block_tokens;
}

CachedPrefix KvCacheManager::get_computed_blocks(std::span<const int32_t> token_ids) const {
  CachedPrefix out;
  if (!config_.enable_prefix_caching || token_ids.empty()) return out;
  const int bs = config_.block_size;
  const size_t max_blocks = (token_ids.size() - 1) / bs;
  uint64_t parent_hash = kRootBlockHash;
  uint64_t parent_cache_id = 0;
  for (size_t i = 0; i < max_blocks; ++i) {
    auto tokens = token_ids.subspan(i * bs, bs);
    const uint64_t h = config_.hash_fn(parent_hash, tokens);
    const int32_t id = pool_.find_cached(h, parent_cache_id, tokens);
    if (id < 0) break;
    parent_hash = h;
    parent_cache_id = pool_.block(id).cache_id;
    out.block_ids.push_back(id);
    out.cache_ids.push_back(parent_cache_id);
  }
  out.num_tokens = static_cast<int>(out.block_ids.size()) * bs;
  return out;
}

bool KvCacheManager::allocate_slots(const RequestId& request_id, std::span<const int32_t> token_ids,
                                    int num_computed_tokens, int num_new_tokens, const CachedPrefix* prefix) {
  const int prefix_tokens = prefix ? prefix->num_tokens : 0;
  const int64_t total = int64_t{num_computed_tokens} + prefix_tokens + num_new_tokens;
  if (num_computed_tokens < 0 || num_new_tokens < 0 || total > static_cast<int64_t>(token_ids.size()))
    throw std::logic_error("allocate_slots for " + request_id + " beyond its known tokens");
  const int first_position = num_computed_tokens + prefix_tokens;  // first token computed in this step
  // Blocks wholly before the window of first_position: positions <= first_position - window are never seen.
  const int num_skipped_blocks =
      config_.sliding_window > 0 ? std::max(0, first_position - config_.sliding_window + 1) / config_.block_size : 0;
  auto it = requests_.find(request_id);
  if (it != requests_.end()) release_skipped_blocks(it->second, num_skipped_blocks);
  const int have = it == requests_.end() ? 0 : static_cast<int>(it->second.block_ids.size());
  if (prefix && (have != 0 || num_computed_tokens != 0))
    throw std::logic_error("allocate_slots with a cached prefix for " + request_id +
                           " that already has blocks");

  const int num_prefix_blocks = prefix ? static_cast<int>(prefix->block_ids.size()) : 0;
  const int num_new_blocks = std::max(0, cdiv(total, config_.block_size) - have - num_prefix_blocks);
  // Hit blocks before the window are not taken (they stay cached for other requests).
  const size_t num_untaken = prefix ? std::min<size_t>(num_skipped_blocks, prefix->block_ids.size()) : 0;
  int num_evictable_hits = 0;  // hit blocks now in the LRU: touching them takes them out of the free count
  if (prefix)
    for (size_t i = num_untaken; i < prefix->block_ids.size(); ++i)
      num_evictable_hits += pool_.block(prefix->block_ids[i]).ref_count == 0 ? 1 : 0;
  if (num_new_blocks > pool_.num_free_blocks() - num_evictable_hits) return false;

  RequestBlocks& rb = requests_[request_id];
  if (prefix) {
    pool_.touch(std::span(prefix->block_ids).subspan(num_untaken));
    rb.block_ids = prefix->block_ids;
    std::fill_n(rb.block_ids.begin(), num_untaken, BlockPool::kNullBlockId);
    rb.chain_cache_ids = prefix->cache_ids;
    for (int32_t id : prefix->block_ids) rb.block_hashes.push_back(pool_.block(id).hash);
    rb.num_released = static_cast<int>(num_untaken);
    if (config_.enable_prefix_caching) {
      ++stats_.num_requests;
      stats_.queries += static_cast<int64_t>(token_ids.size());
      stats_.hits += prefix_tokens;
    }
  }
  const std::vector<int32_t> fresh = pool_.get_new_blocks(num_new_blocks);
  rb.block_ids.insert(rb.block_ids.end(), fresh.begin(), fresh.end());
  return true;
}

void KvCacheManager::cache_blocks(const RequestId& request_id, std::span<const int32_t> token_ids,
                                  int num_computed_tokens) {
  if (!config_.enable_prefix_caching) return;
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  RequestBlocks& rb = it->second;
  const int bs = config_.block_size;
  const size_t num_full = std::min(static_cast<size_t>(num_computed_tokens / bs), rb.block_ids.size());
  while (!rb.chain_broken && rb.block_hashes.size() < num_full) {
    const size_t i = rb.block_hashes.size();
    if (rb.block_ids[i] == BlockPool::kNullBlockId) {  // released by the window before it was cached
      rb.chain_broken = true;
      break;
    }
    auto tokens = token_ids.subspan(i * bs, bs);
    const uint64_t parent_hash = i == 0 ? kRootBlockHash : rb.block_hashes[i - 1];
    const uint64_t parent_cache_id = i == 0 ? 0 : rb.chain_cache_ids[i - 1];
    const uint64_t h = config_.hash_fn(parent_hash, tokens);
    uint64_t cache_id;
    if (!pool_.has_hash(h)) {
      cache_id = pool_.cache_block(rb.block_ids[i], h, parent_cache_id, tokens);
    } else if (int32_t twin = pool_.find_cached(h, parent_cache_id, tokens); twin >= 0) {
      cache_id = pool_.block(twin).cache_id;  // same contents already cached (computed concurrently)
    } else {
      rb.chain_broken = true;  // hash collision: never let a different prefix answer to this key
      break;
    }
    rb.block_hashes.push_back(h);
    rb.chain_cache_ids.push_back(cache_id);
  }
}

void KvCacheManager::free(const RequestId& request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  std::vector<int32_t> reversed;
  for (auto b = it->second.block_ids.rbegin(); b != it->second.block_ids.rend(); ++b)
    if (*b != BlockPool::kNullBlockId) reversed.push_back(*b);
  requests_.erase(it);
  pool_.free_blocks(reversed);
}

void KvCacheManager::release_skipped_blocks(RequestBlocks& rb, int num_skipped_blocks) {
  const int upto = std::min(num_skipped_blocks, static_cast<int>(rb.block_ids.size()));
  if (upto <= rb.num_released) return;
  std::vector<int32_t> released;  // last block first, as free() does
  for (int i = upto - 1; i >= rb.num_released; --i) {
    if (rb.block_ids[static_cast<size_t>(i)] != BlockPool::kNullBlockId) released.push_back(rb.block_ids[static_cast<size_t>(i)]);
    rb.block_ids[static_cast<size_t>(i)] = BlockPool::kNullBlockId;
  }
  rb.num_released = upto;
  pool_.free_blocks(released);
}

const std::vector<int32_t>& KvCacheManager::block_ids(const RequestId& request_id) const {
  static const std::vector<int32_t> kEmpty;
  auto it = requests_.find(request_id);
  return it == requests_.end() ? kEmpty : it->second.block_ids;
}

}  // namespace serval
