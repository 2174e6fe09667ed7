// The registry of supported architectures and the HF Llama-style tensor names most families share.
#include "model/arch_registry.h"

#include "core/error.h"

namespace serval {

const std::vector<ArchSpec>& supported_architectures() {
  static const std::vector<ArchSpec> archs = {kQwen2Arch, kLlamaArch, kPhi3Arch, kGemma2Arch, kPhiArch};
  return archs;
}

const ArchSpec& find_architecture(const std::string& architecture) {
  std::string names;
  for (const ArchSpec& a : supported_architectures()) {
    if (a.architecture == architecture) return a;
    names += (names.empty() ? "" : ", ") + std::string(a.architecture);
  }
  throw Error("unsupported model architecture '" + architecture + "' (supported: " + names + ")");
}

ModelTensorNames hf_llama_model_names() {
  return {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
}

LayerTensorNames hf_llama_layer_names(int layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  return {p + "input_layernorm.weight",          p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
          p + "self_attn.v_proj.weight",         p + "self_attn.o_proj.weight", p + "post_attention_layernorm.weight",
          p + "mlp.gate_proj.weight",            p + "mlp.up_proj.weight",      p + "mlp.down_proj.weight"};
}

}  // namespace serval
