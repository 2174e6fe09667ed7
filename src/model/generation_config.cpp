// generation_config.json parsing.
#include "model/generation_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"

namespace serval {

namespace {

using nlohmann::json;

template <typename T>
std::optional<T> get_opt(const json& j, const std::string& key, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  if constexpr (std::is_same_v<T, bool>) {
    check(v.is_boolean(), source + ": '" + key + "' must be true or false, got " + v.dump());
  } else if constexpr (std::is_integral_v<T>) {
    check(v.is_number_integer(), source + ": '" + key + "' must be an integer, got " + v.dump());
  } else {
    check(v.is_number(), source + ": '" + key + "' must be a number, got " + v.dump());
  }
  return v.get<T>();
}

}  // namespace

GenerationConfig parse_generation_config(const json& j, const std::string& source) {
  check(j.is_object(), source + " is not a JSON object");
  GenerationConfig g;
  g.present = true;
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const json& v = j["eos_token_id"];
    if (v.is_number_integer()) {
      g.eos_token_ids.push_back(v.get<int64_t>());
    } else {
      check(v.is_array(), source + ": 'eos_token_id' must be an integer or a list of integers, got " + v.dump());
      for (const json& e : v) {
        check(e.is_number_integer(), source + ": 'eos_token_id' must list integers, got " + v.dump());
        g.eos_token_ids.push_back(e.get<int64_t>());
      }
    }
  }
  g.bos_token_id = get_opt<int64_t>(j, "bos_token_id", source);
  g.pad_token_id = get_opt<int64_t>(j, "pad_token_id", source);
  g.do_sample = get_opt<bool>(j, "do_sample", source);
  g.temperature = get_opt<double>(j, "temperature", source);
  g.top_p = get_opt<double>(j, "top_p", source);
  g.top_k = get_opt<int64_t>(j, "top_k", source);
  g.min_p = get_opt<double>(j, "min_p", source);
  g.repetition_penalty = get_opt<double>(j, "repetition_penalty", source);
  g.max_new_tokens = get_opt<int64_t>(j, "max_new_tokens", source);
  return g;
}

GenerationConfig load_generation_config(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "generation_config.json").string();
  if (!std::filesystem::exists(path)) return {};
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw Error("malformed JSON in " + path + ": " + e.what());
  }
  return parse_generation_config(j, path);
}

}  // namespace serval
