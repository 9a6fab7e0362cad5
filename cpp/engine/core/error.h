// Engine errors carry a stable code that the addon passes to JS as `err.code`.
#pragma once
#include <stdexcept>
#include <string>

namespace ovis {

// Stable codes (also listed in lib/errors.ts):
//   OVIS_BAD_ARGUMENT   wrong shape/dtype/value at the engine boundary
//   OVIS_BAD_WEIGHTS    plan or weight files unusable (missing file, size, dtype)
//   OVIS_WEIGHTS_CHANGED a weight file was truncated, rewritten or replaced after it was checked/mapped
//   OVIS_NON_FINITE     a stage produced NaN/Inf (the message names the stage and step)
//   OVIS_OUT_OF_MEMORY  host or device allocation failed
//   OVIS_DISPOSED       engine used after dispose
//   ABORT_ERR           cancelled through the cancel flag
//   OVIS_BACKEND        a backend (CUDA, cuBLAS) call failed
//   OVIS_UNAVAILABLE    requested device/backend not available in this build or machine
//   OVIS_INTERNAL       a bug
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

[[noreturn]] inline void fail(const char* code, const std::string& message) { throw Error(code, message); }

#define OVIS_CHECK_ARG(cond, msg)                          \
  do {                                                     \
    if (!(cond)) ::ovis::fail("OVIS_BAD_ARGUMENT", (msg)); \
  } while (0)

}  // namespace ovis
