// Small readers for tokenizer.json fields that throw serval::Error naming the field on a wrong shape.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace serval::json_fields {

inline const nlohmann::json* find(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

inline std::string get_string(const nlohmann::json& j, const char* key, const std::string& where,
                              const std::string& fallback = {}, bool required = false) {
  const nlohmann::json* v = find(j, key);
  if (v == nullptr) {
    if (required) throw Error("tokenizer.json: " + where + " is missing \"" + key + "\"");
    return fallback;
  }
  if (!v->is_string()) throw Error("tokenizer.json: " + where + " field \"" + key + "\" must be a string");
  return v->get<std::string>();
}

inline bool get_bool(const nlohmann::json& j, const char* key, const std::string& where, bool fallback) {
  const nlohmann::json* v = find(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) throw Error("tokenizer.json: " + where + " field \"" + key + "\" must be a boolean");
  return v->get<bool>();
}

inline int64_t get_int(const nlohmann::json& j, const char* key, const std::string& where, int64_t fallback) {
  const nlohmann::json* v = find(j, key);
  if (v == nullptr) return fallback;
  if (!v->is_number_integer()) throw Error("tokenizer.json: " + where + " field \"" + key + "\" must be an integer");
  return v->get<int64_t>();
}

inline const nlohmann::json& get_array(const nlohmann::json& j, const char* key, const std::string& where) {
  const nlohmann::json* v = find(j, key);
  if (v == nullptr || !v->is_array())
    throw Error("tokenizer.json: " + where + " field \"" + key + "\" must be an array");
  return *v;
}

// The "type" of a component object.
inline std::string get_type(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error("tokenizer.json: " + where + " must be an object or null");
  return get_string(j, "type", where, {}, true);
}

}  // namespace serval::json_fields
