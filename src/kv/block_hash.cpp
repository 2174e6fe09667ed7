// Chained block hashing for the prefix cache (XXH3 from Debian's libxxhash-dev, header-only).
#include "kv/block_hash.h"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace serval {

uint64_t hash_block_tokens(uint64_t parent_hash, std::span<const int32_t> token_ids) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  unsigned char parent[8];
  for (int i = 0; i < 8; ++i) parent[i] = static_cast<unsigned char>(parent_hash >> (8 * i));
  XXH3_64bits_update(&state, parent, sizeof(parent));
  // Token ids as 4 little-endian bytes each (the x86/ARM in-memory layout; spelled out for portability).
  unsigned char buf[4 * 64];
  size_t n = 0;
  for (int32_t t : token_ids) {
    const auto u = static_cast<uint32_t>(t);
    for (int b = 0; b < 4; ++b) buf[n++] = static_cast<unsigned char>(u >> (8 * b));
    if (n == sizeof(buf)) {
      XXH3_64bits_update(&state, buf, n);
      n = 0;
    }
  }
  if (n > 0) XXH3_64bits_update(&state, buf, n);
  return XXH3_64bits_digest(&state);
}

std::vector<uint64_t> hash_full_blocks(std::span<const int32_t> token_ids, int block_size,
                                       BlockHashFn hash_fn) {
  std::vector<uint64_t> hashes;
  const size_t num_full = token_ids.size() / static_cast<size_t>(block_size);
  hashes.reserve(num_full);
  uint64_t parent = kRootBlockHash;
  for (size_t i = 0; i < num_full; ++i) {
    parent = hash_fn(parent, token_ids.subspan(i * block_size, block_size));
    hashes.push_back(parent);
  }
  return hashes;
}

}  // namespace serval
