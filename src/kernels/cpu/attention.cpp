// Paged causal attention. Each task owns one (sequence, kv head, query chunk): it walks the sequence's
// blocks in position order, converts the block's K/V rows for its head to float32 once, and updates
// every query of the chunk (all heads of the GQA group) with an online softmax. Results do not depend on
// how the batch is composed, chunked or where the blocks live.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace serval::cpu {

namespace {

constexpr int kQueryChunk = 32;

// NOTE: 8 independent partial sums so the compiler vectorizes without -ffast-math; fixed order keeps
// the result identical for every batch layout.
inline float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

size_t block_bytes(const PagedKvLayer& kv) {
  return static_cast<size_t>(kv.block_size) * kv.num_kv_heads * kv.head_dim * dtype_size(kv.dtype);
}

// Rows [0, rows) of one head of one block, converted to float32: dst [rows, head_dim].
void load_head_rows(const PagedKvLayer& kv, const uint8_t* block, int head, int rows, float* dst) {
  const size_t es = dtype_size(kv.dtype);
  const size_t row_stride = static_cast<size_t>(kv.num_kv_heads) * kv.head_dim * es;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* src = block + r * row_stride + static_cast<size_t>(head) * kv.head_dim * es;
    float* d = dst + static_cast<size_t>(r) * kv.head_dim;
    if (kv.dtype == DType::F32) {
      std::memcpy(d, src, static_cast<size_t>(kv.head_dim) * 4);
    } else {
      convert_to_f32(kv.dtype, src, d, static_cast<size_t>(kv.head_dim));
    }
  }
}

}  // namespace

void write_kv(const PagedKvLayer& kv, const AttentionSeq* seqs, int num_seqs, const float* k, const float* v) {
  const size_t es = dtype_size(kv.dtype);
  const size_t row = static_cast<size_t>(kv.num_kv_heads) * kv.head_dim;
  const size_t bb = block_bytes(kv);
  for (int s = 0; s < num_seqs; ++s) {
    const AttentionSeq& seq = seqs[s];
    for (int i = 0; i < seq.num_tokens; ++i) {
      const int pos = seq.first_pos + i;
      const size_t block_id = static_cast<size_t>(seq.block_table[pos / kv.block_size]);
      const size_t off = block_id * bb + static_cast<size_t>(pos % kv.block_size) * row * es;
      const size_t t = static_cast<size_t>(seq.token_begin + i);
      convert_from_f32(kv.dtype, k + t * row, kv.k_base + off, row);
      convert_from_f32(kv.dtype, v + t * row, kv.v_base + off, row);
    }
  }
}

void paged_attention(const PagedKvLayer& kv, const AttentionSeq* seqs, int num_seqs, const AttentionParams& p,
                     const float* q, float* out, ThreadPool& pool) {
  struct Task {
    int seq, kv_head, q_begin, q_end;  // queries [q_begin, q_end) within the sequence
  };
  std::vector<Task> tasks;
  for (int s = 0; s < num_seqs; ++s)
    for (int g = 0; g < kv.num_kv_heads; ++g)
      for (int b = 0; b < seqs[s].num_tokens; b += kQueryChunk)
        tasks.push_back({s, g, b, std::min(b + kQueryChunk, seqs[s].num_tokens)});

  const int hd = kv.head_dim;
  const int group = p.num_heads / kv.num_kv_heads;
  const size_t bb = block_bytes(kv);
  const float neg_inf = -std::numeric_limits<float>::infinity();

  pool.parallel_for(static_cast<int64_t>(tasks.size()), [&](int64_t t0, int64_t t1) {
    std::vector<float> kf(static_cast<size_t>(kv.block_size) * hd), vf(kf.size());
    std::vector<float> acc, mx, sum, scores(static_cast<size_t>(kv.block_size));
    for (int64_t ti = t0; ti < t1; ++ti) {
      const Task& task = tasks[static_cast<size_t>(ti)];
      const AttentionSeq& seq = seqs[task.seq];
      const int nq = task.q_end - task.q_begin;
      acc.assign(static_cast<size_t>(nq) * group * hd, 0.0f);
      mx.assign(static_cast<size_t>(nq) * group, neg_inf);
      sum.assign(static_cast<size_t>(nq) * group, 0.0f);
      const int pos_lo = seq.first_pos + task.q_begin;     // first query's position
      const int pos_hi = seq.first_pos + task.q_end - 1;   // last query's position
      const int first_needed = p.sliding_window > 0 ? std::max(0, pos_lo - p.sliding_window + 1) : 0;
      for (int blk = first_needed / kv.block_size; blk <= pos_hi / kv.block_size; ++blk) {
        const int block_start = blk * kv.block_size;
        const int rows = std::min(kv.block_size, pos_hi + 1 - block_start);
        const size_t block_id = static_cast<size_t>(seq.block_table[blk]);
        load_head_rows(kv, kv.k_base + block_id * bb, task.kv_head, rows, kf.data());
        load_head_rows(kv, kv.v_base + block_id * bb, task.kv_head, rows, vf.data());
        for (int qi = 0; qi < nq; ++qi) {
          const int pos = pos_lo + qi;
          const int lo = std::max(block_start, p.sliding_window > 0 ? pos - p.sliding_window + 1 : 0);
          const int hi = std::min(block_start + rows, pos + 1);  // exclusive
          if (lo >= hi) continue;
          const int64_t token = seq.token_begin + task.q_begin + qi;
          for (int gh = 0; gh < group; ++gh) {
            const int head = task.kv_head * group + gh;
            const float* qv = q + (token * p.num_heads + head) * hd;
            const size_t state = static_cast<size_t>(qi) * group + gh;
            float block_max = neg_inf;
            for (int j = lo; j < hi; ++j) {
              float sc = dot(qv, kf.data() + static_cast<size_t>(j - block_start) * hd, hd) * p.scale;
              if (p.softcap > 0) sc = p.softcap * std::tanh(sc / p.softcap);
              scores[static_cast<size_t>(j - lo)] = sc;
              block_max = std::max(block_max, sc);
            }
            const float new_max = std::max(mx[state], block_max);
            const float correction = std::exp(mx[state] - new_max);  // exp(-inf) = 0 on the first block
            float* a = acc.data() + state * hd;
            for (int d = 0; d < hd; ++d) a[d] *= correction;
            float s = sum[state] * correction;
            for (int j = lo; j < hi; ++j) {
              const float w = std::exp(scores[static_cast<size_t>(j - lo)] - new_max);
              s += w;
              const float* vr = vf.data() + static_cast<size_t>(j - block_start) * hd;
              for (int d = 0; d < hd; ++d) a[d] += w * vr[d];
            }
            sum[state] = s;
            mx[state] = new_max;
          }
        }
      }
      for (int qi = 0; qi < nq; ++qi) {
        const int64_t token = seq.token_begin + task.q_begin + qi;
        for (int gh = 0; gh < group; ++gh) {
          const size_t state = static_cast<size_t>(qi) * group + gh;
          const float inv = 1.0f / sum[state];
          const float* a = acc.data() + state * hd;
          float* o = out + (token * p.num_heads + task.kv_head * group + gh) * hd;
          for (int d = 0; d < hd; ++d) o[d] = a[d] * inv;
        }
      }
    }
  });
}

}  // namespace serval::cpu
