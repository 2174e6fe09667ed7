// Shared helpers for the tokenizer tests: the golden model tokenizers (loaded once per process) and JSON files.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace serval::test {

inline std::string model_dir(const std::string& name) { return golden_dir() + "/models/" + name; }

// The tokenizer of golden model `name` (qwen2-tiny, phi3-tiny, gemma2-tiny, phi2-tiny), cached.
inline const Tokenizer& golden_tokenizer(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<Tokenizer>(Tokenizer::from_dir(model_dir(name)));
  return *slot;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace serval::test
