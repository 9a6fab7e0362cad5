// A read-only memory mapping of a whole file (weights stay in the page cache, not in our heap).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ovis {

class MappedFile {
 public:
  // Maps `path` read-only; throws Error("OVIS_BAD_WEIGHTS") naming the file when it cannot be opened.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  // Pointer to [offset, offset + bytes); throws OVIS_BAD_WEIGHTS naming the file and `what` when the
  // file is too short.
  const uint8_t* range(uint64_t offset, uint64_t bytes, const std::string& what) const;

 private:
  std::string path_;
  void* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ovis
