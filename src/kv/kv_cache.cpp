// KvCache storage: one anonymous mapping, committed page by page as blocks are first written.
#include "kv/kv_cache.h"

#include <sys/mman.h>

#include <string>
#include <utility>

#include "core/error.h"

namespace serval {

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
  bytes_ = shape.bytes_per_block() * static_cast<size_t>(shape.num_blocks);
  if (bytes_ == 0) return;
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    const size_t bytes = bytes_;
    bytes_ = 0;
    throw Error("cannot reserve " + std::to_string(bytes) + " bytes of memory for the KV cache (" +
                std::to_string(shape.num_blocks) + " blocks); lower --gpu-memory-utilization or --kv-cache-memory");
  }
  data_ = static_cast<uint8_t*>(p);
}

KvCache::~KvCache() {
  if (data_ != nullptr) munmap(data_, bytes_);
}

KvCache::KvCache(KvCache&& other) noexcept
    : shape_(other.shape_), data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

KvCache& KvCache::operator=(KvCache&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, bytes_);
    shape_ = other.shape_;
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

uint8_t* KvCache::block_ptr(int kv, int layer, int block_id) {
  const size_t per_block_one = shape_.bytes_per_block() / 2 / static_cast<size_t>(shape_.num_layers);
  const size_t per_layer_one = per_block_one * static_cast<size_t>(shape_.num_blocks);
  const size_t offset = (static_cast<size_t>(layer) * 2 + static_cast<size_t>(kv)) * per_layer_one +
                        static_cast<size_t>(block_id) * per_block_one;
  return data_ + offset;
}

}  // namespace serval
