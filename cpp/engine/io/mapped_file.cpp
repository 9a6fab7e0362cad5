#include "io/mapped_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace ovis {

namespace {

FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.size = uint64_t(st.st_size);
#ifdef __APPLE__
  id.mtime_ns = uint64_t(st.st_mtimespec.tv_sec) * 1000000000ull + uint64_t(st.st_mtimespec.tv_nsec);
#else
  id.mtime_ns = uint64_t(st.st_mtim.tv_sec) * 1000000000ull + uint64_t(st.st_mtim.tv_nsec);
#endif
  id.dev = uint64_t(st.st_dev);
  id.ino = uint64_t(st.st_ino);
  return id;
}

// What differs between the identity a file had and the one it has now, for messages.
std::string difference(const FileIdentity& was, const FileIdentity& now) {
  if (was.dev != now.dev || was.ino != now.ino) return "it was replaced by another file";
  if (was.size != now.size)
    return "its size changed from " + std::to_string(was.size) + " to " + std::to_string(now.size) + " bytes";
  return "it was modified";
}

}  // namespace

FileIdentity file_identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    fail("OVIS_BAD_WEIGHTS", "cannot stat weight file " + path + ": " + std::strerror(errno));
  return identity_of(st);
}

MappedFile::MappedFile(const std::string& path, const FileIdentity* expected) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("OVIS_BAD_WEIGHTS", "cannot open weight file " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("OVIS_BAD_WEIGHTS", "weight file " + path + " is not a regular file");
  }
  identity_ = identity_of(st);
  if (expected && *expected != identity_) {
    ::close(fd);
    fail("OVIS_WEIGHTS_CHANGED", "weight file " + path + " is not the file whose headers were checked (" +
                                     difference(*expected, identity_) + "): load the model again");
  }
  size_ = identity_.size;
  if (size_ > 0) {
    data_ = ::mmap(nullptr, size_t(size_), PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      int err = errno;
      data_ = nullptr;
      ::close(fd);
      fail(err == ENOMEM ? "OVIS_OUT_OF_MEMORY" : "OVIS_BAD_WEIGHTS",
           "cannot map weight file " + path + ": " + std::strerror(err));
    }
  }
  ::close(fd);  // the mapping stays valid
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_t(size_));
}

void MappedFile::drop_pages(uint64_t offset, uint64_t bytes) const {
  if (!data_ || offset >= size_) return;
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page;
  const uint64_t end = std::min(size_, offset + bytes);
  // Advice only: a failure leaves the pages resident, which is what happens without it.
  ::madvise(static_cast<uint8_t*>(data_) + begin, size_t(end - begin), MADV_DONTNEED);
}

const uint8_t* MappedFile::range(uint64_t offset, uint64_t bytes, const std::string& what) const {
  if (offset > size_ || bytes > size_ - offset)
    fail("OVIS_BAD_WEIGHTS", "weight file " + path_ + " is too short for " + what + ": needs bytes [" +
                                 std::to_string(offset) + ", " + std::to_string(offset + bytes) + "), file has " +
                                 std::to_string(size_) + " (truncated download?)");
  return data() + offset;
}

void MappedFile::check_unchanged() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0)
    fail("OVIS_WEIGHTS_CHANGED", "weight file " + path_ + " is gone since the model was loaded (" +
                                     std::strerror(errno) + "): load the model again");
  const FileIdentity now = identity_of(st);
  if (now != identity_)
    fail("OVIS_WEIGHTS_CHANGED", "weight file " + path_ + " changed since the model was loaded (" +
                                     difference(identity_, now) + "): load the model again");
}

}  // namespace ovis
