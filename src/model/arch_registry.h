// The one list of supported architectures: each maps an HF architectures[] name onto the shared decoder
// by finishing the ModelConfig (family flags) and naming its tensors. One arch_<family>.cpp per entry.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/model_config.h"

namespace serval {

// Checkpoint tensor names of one decoder layer; "" means the tensor does not exist in this family.
// Biases (and LayerNorm biases) are "<name minus .weight>.bias".
struct LayerTensorNames {
  std::string attn_norm, q_proj, k_proj, v_proj, o_proj;
  std::string mlp_norm, gate_proj, up_proj, down_proj;  // Phi2: mlp_norm "", gate "", up = fc1, down = fc2
  std::string qkv_proj;        // Phi3: fused [q; k; v] rows (then q/k/v_proj are ""), split at load
  std::string gate_up_proj;    // Phi3: fused [gate; up] rows (then gate/up_proj are ""), split at load
  std::string post_attn_norm;  // Gemma2: norm of the attention output before the residual add
  std::string post_mlp_norm;   // Gemma2: norm of the MLP output before the residual add
};

struct ModelTensorNames {
  std::string embed_tokens;  // [vocab, hidden]
  std::string final_norm;    // [hidden]
  std::string lm_head;       // [vocab, hidden]; ignored when tie_word_embeddings
};

struct ArchSpec {
  const char* architecture;  // HF architectures[0]
  // Sets the family's flags from config.json (called after the common keys are parsed).
  void (*configure)(const nlohmann::json& j, const std::string& source, ModelConfig& c);
  ModelTensorNames (*model_names)();
  LayerTensorNames (*layer_names)(int layer);
};

const std::vector<ArchSpec>& supported_architectures();
// Throws serval::Error naming `architecture` and listing the supported ones when absent.
const ArchSpec& find_architecture(const std::string& architecture);

// The Llama-style names shared by Llama, Qwen2 and most HF decoders ("model.layers.N.self_attn.q_proj.weight").
ModelTensorNames hf_llama_model_names();
LayerTensorNames hf_llama_layer_names(int layer);

// Defined in the arch_<family>.cpp files.
extern const ArchSpec kQwen2Arch;
extern const ArchSpec kLlamaArch;
extern const ArchSpec kPhi3Arch;
extern const ArchSpec kGemma2Arch;
extern const ArchSpec kPhiArch;

}  // namespace serval
