// Safetensors parsing and validation, and the checkpoint (single file or sharded) that owns the mappings.
#include "model/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace serval {

namespace {

using nlohmann::json;

// Element size of every dtype tag the safetensors format defines; 0 for an unknown tag.
size_t tag_size(const std::string& tag) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  auto it = sizes.find(tag);
  return it == sizes.end() ? 0 : it->second;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string where(const std::string& source, const std::string& tensor) {
  return "safetensors file " + source + ", tensor '" + tensor + "'";
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

DType TensorView::dtype() const {
  if (dtype_tag == "F32") return DType::F32;
  if (dtype_tag == "F16") return DType::F16;
  if (dtype_tag == "BF16") return DType::BF16;
  throw Error(where(source, name) + " has dtype " + dtype_tag +
              ", which serval cannot compute with (supported: F32, F16, BF16)");
}

std::vector<TensorView> parse_safetensors(const uint8_t* data, size_t size, const std::string& source) {
  check(size >= 8, "safetensors file " + source + " is truncated: " + std::to_string(size) +
                       " bytes, too short for the 8-byte header length");
  const uint64_t header_len = read_u64_le(data);
  check(header_len <= size - 8, "safetensors file " + source + " declares a " + std::to_string(header_len) +
                                    "-byte header but has only " + std::to_string(size - 8) +
                                    " bytes after the length (truncated or not a safetensors file)");
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_len);
  } catch (const json::exception& e) {
    throw Error("safetensors file " + source + " has a malformed JSON header: " + e.what());
  }
  check(header.is_object(), "safetensors file " + source + " has a JSON header that is not an object");

  const uint8_t* region = data + 8 + header_len;
  const uint64_t region_size = size - 8 - header_len;
  std::vector<TensorView> out;
  out.reserve(header.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const json& e = it.value();
    const std::string at = where(source, name);
    check(e.is_object(), at + ": header entry is not an object");
    check(e.contains("dtype") && e["dtype"].is_string(), at + ": missing or non-string 'dtype'");
    check(e.contains("shape") && e["shape"].is_array(), at + ": missing or non-array 'shape'");
    check(e.contains("data_offsets") && e["data_offsets"].is_array() && e["data_offsets"].size() == 2,
          at + ": 'data_offsets' must be an array of two integers");
    TensorView t;
    t.name = name;
    t.source = source;
    t.dtype_tag = e["dtype"].get<std::string>();
    const size_t es = tag_size(t.dtype_tag);
    check(es != 0, at + " has unknown dtype '" + t.dtype_tag + "'");
    uint64_t bytes = es;
    for (const json& d : e["shape"]) {
      check(d.is_number_unsigned(), at + ": shape has a non-integer or negative dimension " + d.dump());
      const uint64_t dim = d.get<uint64_t>();
      check(!__builtin_mul_overflow(bytes, dim, &bytes), at + ": shape " + e["shape"].dump() + " overflows");
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& off = e["data_offsets"];
    check(off[0].is_number_unsigned() && off[1].is_number_unsigned(),
          at + ": 'data_offsets' " + off.dump() + " are not non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    check(begin <= end, at + ": data_offsets " + off.dump() + " end before they begin");
    check(end <= region_size, at + ": data_offsets " + off.dump() + " lie outside the " +
                                  std::to_string(region_size) + "-byte data region (file truncated?)");
    check(end - begin == bytes, at + ": the header lies about sizes: data_offsets " + off.dump() + " span " +
                                    std::to_string(end - begin) + " bytes but shape " + e["shape"].dump() +
                                    " x " + t.dtype_tag + " needs " + std::to_string(bytes));
    t.data = region + begin;
    t.nbytes = bytes;
    out.push_back(std::move(t));
  }
  // Overlap check: sort by start offset, each tensor must end at or before the next begins.
  std::vector<const TensorView*> order;
  for (const auto& t : out) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    return a->data != b->data ? a->data < b->data : a->nbytes < b->nbytes;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorView& a = *order[i - 1];
    const TensorView& b = *order[i];
    check(a.data + a.nbytes <= b.data || a.nbytes == 0 || b.nbytes == 0,
          "safetensors file " + source + ": tensors '" + a.name + "' and '" + b.name + "' overlap");
  }
  return out;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open_file(const std::string& path) {
  SafetensorsCheckpoint ck;
  ck.location_ = path;
  check(std::filesystem::exists(path), "safetensors file " + path + " does not exist");
  auto file = std::make_unique<MappedFile>(path);
  for (auto& t : parse_safetensors(file->data(), file->size(), path)) {
    std::string name = t.name;
    ck.tensors_.emplace(std::move(name), std::move(t));
  }
  ck.files_.push_back(std::move(file));
  return ck;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  const std::string single_path = (fs::path(dir) / "model.safetensors").string();
  if (!fs::exists(index_path)) {
    check(fs::exists(single_path), "model directory " + dir + " has neither model.safetensors nor " +
                                       "model.safetensors.index.json (missing " + single_path + ")");
    return open_file(single_path);
  }
  json index;
  try {
    index = json::parse(read_text_file(index_path));
  } catch (const json::exception& e) {
    throw Error("malformed JSON in " + index_path + ": " + e.what());
  }
  check(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
        index_path + " has no 'weight_map' object");
  SafetensorsCheckpoint ck;
  ck.location_ = dir;
  std::map<std::string, std::vector<std::string>> by_shard;  // shard file -> tensor names it must hold
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    check(it.value().is_string(), index_path + ": weight_map entry '" + it.key() + "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    check(shard.find('/') == std::string::npos && shard != ".." && !shard.empty(),
          index_path + ": weight_map entry '" + it.key() + "' names an invalid shard file '" + shard + "'");
    by_shard[shard].push_back(it.key());
  }
  for (const auto& [shard, names] : by_shard) {
    const std::string path = (fs::path(dir) / shard).string();
    check(fs::exists(path), "shard file " + path + " listed in " + index_path + " does not exist");
    auto file = std::make_unique<MappedFile>(path);
    std::vector<TensorView> views = parse_safetensors(file->data(), file->size(), path);
    std::set<std::string> present;
    for (auto& t : views) {
      present.insert(t.name);
      std::string name = t.name;
      ck.tensors_.insert_or_assign(std::move(name), std::move(t));
    }
    for (const auto& n : names)
      check(present.count(n) != 0, index_path + " maps tensor '" + n + "' to " + path + ", which lacks it");
    ck.files_.push_back(std::move(file));
  }
  return ck;
}

const TensorView* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsCheckpoint::get(const std::string& name) const {
  const TensorView* t = find(name);
  check(t != nullptr, "checkpoint " + location_ + " has no tensor '" + name + "'");
  return *t;
}

}  // namespace serval
