// Safetensors reader: parses the 8-byte header length + JSON header of a byte span into tensor views,
// and opens whole checkpoints (one model.safetensors, or shards listed by model.safetensors.index.json).
// Tensors are views into the memory-mapped files; nothing is copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace serval {

// One tensor as stored in a safetensors file.
struct TensorView {
  std::string name;            // key in the header, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::string dtype_tag;       // the header's tag: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;  // dimensions, outermost first
  const uint8_t* data = nullptr;  // first byte, inside the mapped file (or the parsed span)
  size_t nbytes = 0;              // shape product x element size
  std::string source;             // the file it came from (for messages)

  int64_t numel() const;
  // The element type as a serval DType. Throws serval::Error naming tensor, file and tag when the tensor
  // holds a type serval cannot compute with (integers, fp8, f64).
  DType dtype() const;
};

// Parses a complete safetensors image [data, data + size). `source` names it in error messages.
// Every structural problem (short file, header length beyond the file, bad JSON, unknown dtype tag,
// offsets outside the data region, overlapping tensors, offsets that disagree with shape x dtype)
// throws serval::Error naming `source` and the tensor. The "__metadata__" entry is ignored.
std::vector<TensorView> parse_safetensors(const uint8_t* data, size_t size, const std::string& source);

// A checkpoint directory's tensors, by name, across all its shard files (kept mapped).
class SafetensorsCheckpoint {
 public:
  // Opens dir/model.safetensors.index.json (sharded) if present, else dir/model.safetensors.
  // Throws serval::Error naming the missing or malformed file.
  static SafetensorsCheckpoint open(const std::string& dir);
  // Opens a single file.
  static SafetensorsCheckpoint open_file(const std::string& path);

  // nullptr when absent.
  const TensorView* find(const std::string& name) const;
  // Throws serval::Error "checkpoint <dir> has no tensor '<name>'" when absent.
  const TensorView& get(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& location() const { return location_; }

 private:
  std::string location_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace serval
