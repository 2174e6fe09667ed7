// MappedFile: a read-only memory map of a whole file (weights are never copied unless converted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace serval {

class MappedFile {
 public:
  // Maps path read-only. Throws serval::Error naming the path and the OS error on failure.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole file into a string. Throws serval::Error naming the path when it cannot.
std::string read_text_file(const std::string& path);

}  // namespace serval
