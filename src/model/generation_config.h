// GenerationConfig: the model creator's defaults from generation_config.json (stop ids, sampling knobs).
// Absent knobs stay unset (std::optional) so the serving layer can tell "not given" from a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace serval {

struct GenerationConfig {
  bool present = false;                     // the file existed
  std::vector<int64_t> eos_token_ids;       // eos_token_id (int or list); falls back to config.json's
  std::optional<int64_t> bos_token_id;      // bos_token_id
  std::optional<int64_t> pad_token_id;      // pad_token_id
  std::optional<bool> do_sample;            // do_sample
  std::optional<double> temperature;        // temperature
  std::optional<double> top_p;              // top_p
  std::optional<int64_t> top_k;             // top_k
  std::optional<double> min_p;              // min_p
  std::optional<double> repetition_penalty; // repetition_penalty
  std::optional<int64_t> max_new_tokens;    // max_new_tokens
};

// Reads dir/generation_config.json; a missing file gives present=false (not an error), a malformed one
// throws serval::Error naming the path and the key.
GenerationConfig load_generation_config(const std::string& model_dir);
GenerationConfig parse_generation_config(const nlohmann::json& j, const std::string& source);

}  // namespace serval
