#include "io/mapped_file.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace ovis {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("OVIS_BAD_WEIGHTS", "cannot open weight file " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("OVIS_BAD_WEIGHTS", "weight file " + path + " is not a regular file");
  }
  size_ = uint64_t(st.st_size);
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

const uint8_t* MappedFile::range(uint64_t offset, uint64_t bytes, const std::string& what) const {
  if (offset > size_ || bytes > size_ - offset)
    fail("OVIS_BAD_WEIGHTS", "weight file " + path_ + " is too short for " + what + ": needs bytes [" +
                                 std::to_string(offset) + ", " + std::to_string(offset + bytes) + "), file has " +
                                 std::to_string(size_) + " (truncated download?)");
  return data() + offset;
}

}  // namespace ovis
