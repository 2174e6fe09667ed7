#include "kv/kv_cache.h"

namespace serval {

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
  storage_.resize(shape.bytes_per_block() * static_cast<size_t>(shape.num_blocks));
}

uint8_t* KvCache::block_ptr(int kv, int layer, int block_id) {
  const size_t per_block_one = shape_.bytes_per_block() / 2 / static_cast<size_t>(shape_.num_layers);
  const size_t per_layer_one = per_block_one * static_cast<size_t>(shape_.num_blocks);
  const size_t offset = (static_cast<size_t>(layer) * 2 + static_cast<size_t>(kv)) * per_layer_one +
                        static_cast<size_t>(block_id) * per_block_one;
  return storage_.data() + offset;
}

}  // namespace serval
