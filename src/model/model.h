// Model: a loaded checkpoint (config, generation defaults, weights in the serving dtype) and its
// batched forward step over a paged KV cache. The architecture registry (arch_registry.h) decides how
// a checkpoint's tensors map onto the shared decoder.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kv/kv_cache.h"
#include "model/decoder.h"
#include "model/generation_config.h"
#include "model/model_config.h"
#include "model/model_inputs.h"
#include "model/safetensors.h"

namespace serval {

struct LoadOptions {
  // vLLM's --dtype: "auto" (float16 for float32/float16 checkpoints, bfloat16 for bfloat16 ones),
  // "bfloat16", "float16" or "float32" (and vLLM's aliases half/float/bf16...).
  std::string dtype = "auto";
  // vLLM's --quantization, applied at load to the serving-dtype weights: "" or "none" (off), "int8" or
  // "int4" (weight-only, groups of 32 along K with an f16 scale; see cpu::LinearFormat). Every linear
  // layer is quantized; the LM head becomes int8 under both (the logits are the most sensitive layer;
  // llama.cpp's Q4_0 likewise keeps its output matrix at 6 bits); the embedding table stays in the
  // serving dtype (one row is read per token).
  std::string quantization;
};

// Parses --quantization. Throws serval::Error naming the value and listing int8, int4 otherwise.
cpu::LinearFormat parse_quantization(const std::string& name);

// Resolves vLLM's --dtype against the checkpoint's own dtype. Throws serval::Error on an unknown name.
DType resolve_dtype(const std::string& requested, DType checkpoint_dtype);

class Model {
 public:
  // Loads model_dir (config.json, generation_config.json, model.safetensors or sharded index).
  // Weights whose checkpoint dtype equals the target dtype are used straight from the mmap; others are
  // converted once into owned memory. Throws serval::Error naming the file / tensor / key on any problem.
  static std::unique_ptr<Model> load(const std::string& model_dir, const LoadOptions& opts = {});

  const ModelConfig& config() const { return config_; }
  const GenerationConfig& generation_config() const { return generation_; }
  DType dtype() const { return dtype_; }
  // Bytes of weights held in the serving dtype (embedding counted once when tied); with --quantization,
  // the quantized linears (codes + scales), plus the embedding (and the LM head's own copy when tied).
  size_t weight_bytes() const { return weight_bytes_; }
  // Bytes of weights one decode step streams: every linear layer and the LM head (as stored).
  size_t decode_read_bytes() const { return decode_read_bytes_; }
  cpu::LinearFormat quantization() const { return quantization_; }
  // Parameters in the checkpoint (embedding counted once when tied), whatever the storage format.
  int64_t num_parameters() const { return num_parameters_; }

  // The KV cache this model needs. KV dtype = model dtype (f32, f16 or bf16 stored as such).
  KvCacheShape kv_cache_shape(int num_blocks, int block_size) const;

  // One batched step over all sequences in `in` (model_inputs.h): writes each new token's K/V at
  // (block_table[pos / block_size], pos % block_size), then causal attention of each token over its own
  // sequence's positions [0, pos], read block by block. Fills out.logits for in.logit_rows.
  // Throws serval::Error if `in` is inconsistent (token ids, positions, block tables) or kv has the wrong shape.
  // PRECONDITION: one call at a time per Model (scratch buffers are reused across steps).
  void forward(const ModelInputs& in, KvCache& kv, ModelOutput& out);

  // Debug hook: sees every named intermediate (see decoder.h).
  void set_tensor_callback(TensorCallback cb) { decoder_->set_callback(std::move(cb)); }

 private:
  Model() = default;
  void validate(const ModelInputs& in, const KvCache& kv) const;

  ModelConfig config_;
  GenerationConfig generation_;
  DType dtype_ = DType::F32;
  size_t weight_bytes_ = 0;
  size_t decode_read_bytes_ = 0;
  int64_t num_parameters_ = 0;
  cpu::LinearFormat quantization_ = cpu::LinearFormat::Native;
  SafetensorsCheckpoint checkpoint_;         // keeps the mmaps alive
  std::vector<std::vector<uint8_t>> owned_;  // converted weights (buffers never move)
  std::unique_ptr<Decoder> decoder_;
};

}  // namespace serval
