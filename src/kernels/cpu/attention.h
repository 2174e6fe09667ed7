// Causal attention over a paged KV cache on CPU (float32 math, numerically stable online softmax),
// and the write of new keys/values into their cache slots. Layout of one layer's K (and V) region:
// [num_blocks, block_size, num_kv_heads, head_dim] in kv_dtype, as kv/kv_cache.h stores it.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace serval::cpu {

struct PagedKvLayer {
  uint8_t* k_base = nullptr;  // block 0 of this layer's keys
  uint8_t* v_base = nullptr;  // block 0 of this layer's values
  int num_blocks = 0;
  int block_size = 0;         // tokens per block
  int num_kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::F32;   // element type stored
};

// One sequence's queries in a step: tokens [token_begin, token_begin + num_tokens) of the batch, at
// positions first_pos .. first_pos + num_tokens - 1; block_table covers positions [0, first_pos + num_tokens).
struct AttentionSeq {
  int32_t token_begin = 0;
  int32_t num_tokens = 0;
  int32_t first_pos = 0;
  const int32_t* block_table = nullptr;
};

struct AttentionParams {
  int num_heads = 0;           // query heads; num_heads / num_kv_heads queries share one KV head
  float scale = 1.0f;          // multiplies q.k
  float softcap = 0.0f;        // > 0: score = softcap * tanh(score / softcap)
  int sliding_window = 0;      // > 0: a query at p sees positions (p - window, p]
};

// Stores k, v: [num_tokens, num_kv_heads, head_dim] float32 for each sequence's tokens into the slots of
// their positions (converted to kv.dtype).
void write_kv(const PagedKvLayer& kv, const AttentionSeq* seqs, int num_seqs, const float* k, const float* v);

// out[t, h, :] = sum_j softmax_j(scale * q[t,h].K[j]) V[j] over positions j <= pos(t) of t's sequence.
// q, out: [num_tokens, num_heads, head_dim] float32. Work is split over (sequence, kv head, query chunk).
void paged_attention(const PagedKvLayer& kv, const AttentionSeq* seqs, int num_seqs, const AttentionParams& p,
                     const float* q, float* out, ThreadPool& pool);

}  // namespace serval::cpu
