// A read-only memory mapping of a whole file (weights stay in the page cache, not in our heap).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ovis {

// What makes a file the same file: where it lives (device, inode), its size and last change.
// TS records it in the plan when it reads the headers; C++ maps only a file that still matches, and
// checks again before every run (a truncated mapping would kill the process with SIGBUS).
struct FileIdentity {
  uint64_t size = 0, mtime_ns = 0, dev = 0, ino = 0;
  bool operator==(const FileIdentity& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && dev == o.dev && ino == o.ino;
  }
  bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};

// The identity of the file at `path` now (links followed); throws OVIS_BAD_WEIGHTS when it cannot
// be read.
FileIdentity file_identity(const std::string& path);

class MappedFile {
 public:
  // Maps `path` read-only; throws Error("OVIS_BAD_WEIGHTS") naming the file when it cannot be opened,
  // is not a regular file, or (given `expected`) is not the file that was checked.
  explicit MappedFile(const std::string& path, const FileIdentity* expected = nullptr);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  // Pointer to [offset, offset + bytes); throws OVIS_BAD_WEIGHTS naming the file and `what` when the
  // file is too short.
  const uint8_t* range(uint64_t offset, uint64_t bytes, const std::string& what) const;
  // Throws Error("OVIS_WEIGHTS_CHANGED") when the file at path() is no longer the mapped one
  // (truncated, rewritten, replaced or deleted since it was mapped).
  void check_unchanged() const;
  // Tells the kernel this process no longer needs the pages of [offset, offset + bytes) resident (a
  // weight converted into other memory): they leave the process's RSS and come back from the file
  // if read again. Safe for any range: the mapping is read-only and private.
  void drop_pages(uint64_t offset, uint64_t bytes) const;

 private:
  std::string path_;
  void* data_ = nullptr;
  uint64_t size_ = 0;
  FileIdentity identity_;
};

}  // namespace ovis
