// KvCache: the paged storage of keys and values for every layer, addressed by (block id, slot in block).
// Block ids are handed out by the block pool (kv/block_pool.h, serving engine); attention reads each
// sequence's blocks through its block table, never through a contiguous copy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace serval {

struct KvCacheShape {
  int num_layers = 0;
  int num_blocks = 0;
  int block_size = 16;     // tokens per block
  int num_kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::F32;  // element type of stored keys/values

  // Bytes of K+V for one token across all layers.
  size_t bytes_per_token() const {
    return static_cast<size_t>(2) * num_layers * num_kv_heads * head_dim * dtype_size(dtype);
  }
  size_t bytes_per_block() const { return bytes_per_token() * block_size; }
};

// The storage is an anonymous private mapping: untouched blocks cost no RAM, so a KV budget sized from
// --gpu-memory-utilization of the machine's RAM is committed only as requests fill it (like a GPU
// allocation it is never given back). Blocks read before any write read zeros.
class KvCache {
 public:
  KvCache() = default;
  // Throws serval::Error naming the size when the mapping cannot be made.
  explicit KvCache(const KvCacheShape& shape);
  ~KvCache();
  KvCache(KvCache&& other) noexcept;
  KvCache& operator=(KvCache&& other) noexcept;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvCacheShape& shape() const { return shape_; }

  // Layout per layer: K and V each [num_blocks, block_size, num_kv_heads, head_dim].
  uint8_t* key_block(int layer, int block_id) { return block_ptr(0, layer, block_id); }
  uint8_t* value_block(int layer, int block_id) { return block_ptr(1, layer, block_id); }
  const uint8_t* key_block(int layer, int block_id) const { return const_cast<KvCache*>(this)->block_ptr(0, layer, block_id); }
  const uint8_t* value_block(int layer, int block_id) const { return const_cast<KvCache*>(this)->block_ptr(1, layer, block_id); }

  size_t total_bytes() const { return bytes_; }

 private:
  uint8_t* block_ptr(int kv, int layer, int block_id);

  KvCacheShape shape_;
  uint8_t* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace serval
