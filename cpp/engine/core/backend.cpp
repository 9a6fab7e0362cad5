// create_backend: picks the backend implementation named by BackendOptions::device.
#include "core/backend.h"

#include <cstdlib>

#include "core/error.h"

namespace ovis {

std::unique_ptr<Backend> create_backend(const BackendOptions& opts) {
  const std::string& d = opts.device;
  if (d == "cpu") return create_cpu_backend(opts.threads, opts.cpu_bf16);
  if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (d.size() > 5) {
      const std::string digits = d.substr(5);
      bool ok = !digits.empty() && digits.size() < 4;
      for (char c : digits) ok = ok && c >= '0' && c <= '9';
      if (!ok) fail("OVIS_BAD_ARGUMENT", "device '" + d + "': expected 'cpu', 'cuda' or 'cuda:N'");
      index = std::atoi(digits.c_str());
    }
#ifdef OVIS_WITH_CUDA
    return create_cuda_backend(index, opts.fp32);
#else
    (void)index;
    fail("OVIS_UNAVAILABLE", "device '" + d + "': this build has no CUDA backend (CPU only)");
#endif
  }
  fail("OVIS_BAD_ARGUMENT", "device '" + d + "': expected 'cpu', 'cuda' or 'cuda:N'");
}

}  // namespace ovis
