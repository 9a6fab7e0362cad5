// A uniquely named file in $TMPDIR (or /tmp), created by mkstemp and removed when the object goes away:
// benchmarks that write a random model can then run side by side without colliding.
#pragma once
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace ovis::bench {

class TempFile {
 public:
  explicit TempFile(const std::string& stem) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/" + stem + "-XXXXXX";
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("cannot create a temporary file from " + tmpl);
    close(fd);
    path_ = tmpl;
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ovis::bench
