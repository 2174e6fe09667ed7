// BlockPool: reference counts, free list, LRU of cached blocks, verified prefix-cache index.
#include "kv/block_pool.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace serval {

BlockPool::BlockPool(int num_blocks) {
  if (num_blocks < 2)
    throw std::logic_error("BlockPool needs >= 2 blocks, got " + std::to_string(num_blocks));
  blocks_.resize(num_blocks);
  lru_pos_.resize(num_blocks);
  for (int32_t i = 0; i < num_blocks; ++i) blocks_[i].block_id = i;
  for (int32_t i = 1; i < num_blocks; ++i) free_list_.push_back(i);
}

double BlockPool::usage() const {
  return 1.0 - static_cast<double>(num_free_blocks()) / static_cast<double>(num_usable_blocks());
}

void BlockPool::uncache(KvBlock& b) {
  index_.erase(b.hash);
  b.cached = false;
  b.hash = 0;
  b.cache_id = 0;
  b.parent_cache_id = 0;
  b.token_ids.clear();
}

std::vector<int32_t> BlockPool::get_new_blocks(int n) {
  if (n < 0 || n > num_free_blocks())
    throw std::logic_error("get_new_blocks(" + std::to_string(n) + ") with " +
                           std::to_string(num_free_blocks()) + " free");
  std::vector<int32_t> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    int32_t id;
    if (!free_list_.empty()) {
      id = free_list_.front();
      free_list_.pop_front();
    } else {
      id = lru_.front();
      lru_.pop_front();
      uncache(blocks_[id]);
    }
    blocks_[id].ref_count = 1;
    out.push_back(id);
  }
  return out;
}

void BlockPool::touch(std::span<const int32_t> block_ids) {
  for (int32_t id : block_ids) {
    KvBlock& b = blocks_.at(id);
    if (id == kNullBlockId || (b.ref_count == 0 && !b.cached))
      throw std::logic_error("touch of block " + std::to_string(id) + " that is neither in use nor cached");
    if (b.ref_count == 0) lru_.erase(lru_pos_[id]);
    ++b.ref_count;
  }
}

void BlockPool::free_blocks(std::span<const int32_t> block_ids) {
  for (int32_t id : block_ids) {
    KvBlock& b = blocks_.at(id);
    if (id == kNullBlockId || b.ref_count <= 0)
      throw std::logic_error("free of block " + std::to_string(id) + " with ref_count 0");
    if (--b.ref_count > 0) continue;
    if (b.cached) {
      lru_pos_[id] = lru_.insert(lru_.end(), id);
    } else {
      free_list_.push_back(id);
    }
  }
}

int32_t BlockPool::find_cached(uint64_t hash, uint64_t parent_cache_id,
                               std::span<const int32_t> token_ids) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return -1;
  const KvBlock& b = blocks_[it->second];
  if (b.parent_cache_id != parent_cache_id) return -1;
  if (!std::equal(b.token_ids.begin(), b.token_ids.end(), token_ids.begin(), token_ids.end())) return -1;
  return b.block_id;
}

uint64_t BlockPool::cache_block(int32_t block_id, uint64_t hash, uint64_t parent_cache_id,
                                std::span<const int32_t> token_ids) {
  KvBlock& b = blocks_.at(block_id);
  if (b.ref_count <= 0 || b.cached || has_hash(hash))
    throw std::logic_error("cache_block of block " + std::to_string(block_id) + " breaks its precondition");
  b.cached = true;
  b.hash = hash;
  b.cache_id = next_cache_id_++;
  b.parent_cache_id = parent_cache_id;
  b.token_ids.assign(token_ids.begin(), token_ids.end());
  index_.emplace(hash, block_id);
  return b.cache_id;
}

}  // namespace serval
