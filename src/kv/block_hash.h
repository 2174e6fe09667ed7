// Prefix-cache keys: a full KV block is keyed by a chained 64-bit hash of (parent block's hash,
// this block's token ids), so equal keys mean "same tokens after the same prefix" with high probability.
// Collisions are harmless: the block pool verifies tokens and parent identity on every hit (block_pool.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace serval {

// Parent hash used for a sequence's first block.
inline constexpr uint64_t kRootBlockHash = 0x5e4a1c0ffee0b10cULL;

// Hash of one full block: XXH3-64 over the bytes [parent_hash (8 bytes LE) | token ids (4 bytes LE each)].
// Well defined (same value on every run and machine), not cryptographic.
uint64_t hash_block_tokens(uint64_t parent_hash, std::span<const int32_t> token_ids);

// Signature of the hash above; tests swap in a weak one to force collisions.
using BlockHashFn = uint64_t (*)(uint64_t parent_hash, std::span<const int32_t> token_ids);

// Chained hashes of the full blocks of token_ids: result[i] covers tokens [i*block_size, (i+1)*block_size).
// The trailing partial block (if any) gets no hash. PRECONDITION: block_size > 0.
std::vector<uint64_t> hash_full_blocks(std::span<const int32_t> token_ids, int block_size,
                                       BlockHashFn hash_fn = hash_block_tokens);

}  // namespace serval
