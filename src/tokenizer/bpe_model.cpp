// BPE encoding of one word: characters (or byte-fallback bytes) to ids, then merges applied lowest rank
// first (leftmost on ties), as Hugging Face tokenizers' Word::merge_all does.
#include "tokenizer/bpe_model.h"

#include <cstdio>
#include <mutex>
#include <queue>

#include "core/error.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace serval {

std::shared_ptr<BpeModel> BpeModel::from_json(const nlohmann::json& model) {
  if (!model.is_object()) throw Error("tokenizer.json: \"model\" is missing or not an object");
  std::string type = json_fields::get_string(model, "type", "model", "BPE");
  if (type != "BPE")
    throw Error("tokenizer.json: unsupported model type \"" + type + "\" (only BPE is supported)");
  auto m = std::make_shared<BpeModel>();
  const auto* dropout = json_fields::find(model, "dropout");
  if (dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0))
    throw Error("tokenizer.json: BPE dropout is not supported at inference");
  m->fuse_unk_ = json_fields::get_bool(model, "fuse_unk", "model", false);
  m->byte_fallback_ = json_fields::get_bool(model, "byte_fallback", "model", false);
  m->ignore_merges_ = json_fields::get_bool(model, "ignore_merges", "model", false);
  m->continuing_subword_prefix_ = json_fields::get_string(model, "continuing_subword_prefix", "model");
  m->end_of_word_suffix_ = json_fields::get_string(model, "end_of_word_suffix", "model");

  const auto* vocab = json_fields::find(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) throw Error("tokenizer.json: model.vocab must be an object");
  m->vocab_.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw Error("tokenizer.json: model.vocab id of \"" + token + "\" must be a non-negative integer");
    m->vocab_[token] = static_cast<int32_t>(id.get<int64_t>());
  }

  if (const auto* unk = json_fields::find(model, "unk_token")) {
    if (!unk->is_string()) throw Error("tokenizer.json: model.unk_token must be a string");
    auto it = m->vocab_.find(unk->get<std::string>());
    if (it == m->vocab_.end())
      throw Error("tokenizer.json: model.unk_token \"" + unk->get<std::string>() + "\" is not in the vocab");
    m->unk_id_ = it->second;
  }

  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = m->vocab_.find(std::string_view(name));
    m->byte_ids_[b] = it == m->vocab_.end() ? -1 : it->second;
  }

  const auto& merges = json_fields::get_array(model, "merges", "model");
  m->merges_.reserve(merges.size());
  const size_t prefix_len = m->continuing_subword_prefix_.size();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& entry = merges[rank];
    std::string a, b;
    if (entry.is_string()) {
      const std::string& line = entry.get_ref<const std::string&>();
      size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        throw Error("tokenizer.json: model.merges[" + std::to_string(rank) + "] \"" + line +
                    "\" is not two tokens separated by one space");
      a = line.substr(0, space);
      b = line.substr(space + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
      a = entry[0].get<std::string>();
      b = entry[1].get<std::string>();
    } else {
      throw Error("tokenizer.json: model.merges[" + std::to_string(rank) + "] must be \"a b\" or [\"a\", \"b\"]");
    }
    auto ia = m->vocab_.find(a), ib = m->vocab_.find(b);
    if (ia == m->vocab_.end() || ib == m->vocab_.end())
      throw Error("tokenizer.json: model.merges[" + std::to_string(rank) + "] uses a token not in the vocab (\"" +
                  (ia == m->vocab_.end() ? a : b) + "\")");
    std::string merged = a + (prefix_len > 0 && b.compare(0, prefix_len, m->continuing_subword_prefix_) == 0
                                  ? b.substr(prefix_len)
                                  : b);
    auto im = m->vocab_.find(merged);
    if (im == m->vocab_.end())
      throw Error("tokenizer.json: model.merges[" + std::to_string(rank) + "] makes \"" + merged +
                  "\", which is not in the vocab");
    m->merges_[pair_key(ia->second, ib->second)] = {static_cast<int32_t>(rank), im->second};
  }
  return m;
}

const BpeModel::MergeResult* BpeModel::find_merge(int32_t a, int32_t b) const {
  auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  if (ignore_merges_) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) ids.push_back(it->second);
  }
  if (ids.empty()) merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::move(ids));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add_symbol = [&](int32_t id) {
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1, true});
    if (index > 0) symbols[index - 1].next = index;
  };

  // Characters to initial symbols (HF's BPE::merge_word): vocab hit, else <0xNN> bytes, else (fused) unk.
  bool pending_unk = false;
  std::string piece;
  for (size_t i = 0; i < word.size();) {
    size_t n = utf8::char_len(word, i);
    bool is_first = i == 0, is_last = i + n == word.size();
    piece.clear();
    if (!is_first) piece += continuing_subword_prefix_;
    piece.append(word.substr(i, n));
    if (is_last) piece += end_of_word_suffix_;
    i += n;
    auto it = vocab_.find(std::string_view(piece));
    if (it != vocab_.end()) {
      if (pending_unk) add_symbol(*unk_id_);
      pending_unk = false;
      add_symbol(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : piece) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        for (char c : piece) add_symbol(byte_ids_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !fuse_unk_) add_symbol(*unk_id_);
      pending_unk = true;
    }
  }
  if (pending_unk) add_symbol(*unk_id_);

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  for (size_t i = 0; i + 1 < symbols.size(); ++i)
    if (const MergeResult* m = find_merge(symbols[i].id, symbols[i + 1].id))
      queue.push({m->rank, static_cast<int32_t>(i), m->new_id});

  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& s = symbols[top.pos];
    if (!s.alive || s.next < 0) continue;
    Symbol& right = symbols[s.next];
    const MergeResult* m = find_merge(s.id, right.id);
    if (m == nullptr || m->rank != top.rank || m->new_id != top.new_id) continue;  // stale candidate
    s.id = top.new_id;
    right.alive = false;
    s.next = right.next;
    if (s.next >= 0) symbols[s.next].prev = top.pos;
    if (s.prev >= 0)
      if (const MergeResult* pm = find_merge(symbols[s.prev].id, s.id)) queue.push({pm->rank, s.prev, pm->new_id});
    if (s.next >= 0)
      if (const MergeResult* nm = find_merge(s.id, symbols[s.next].id)) queue.push({nm->rank, top.pos, nm->new_id});
  }
  for (const Symbol& s : symbols)
    if (s.alive) out.push_back(s.id);
}

}  // namespace serval
