// Finds and dlopens libcublasLt.so.13, then resolves the functions in CublasLtApi.
// Search order (the same as lib/cuda-libs/find-cublaslt.ts, which normally chooses the file and passes it
// in OVIS_CUBLASLT_PATH): $OVIS_CUBLASLT_PATH (file or folder); the dynamic loader (LD_LIBRARY_PATH,
// ldconfig cache); CUDA toolkits ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda*); Python site-packages
// (nvidia-cublas wheels: nvidia/cu13/lib, nvidia/cublas/lib; PyTorch: torch/lib) of $VIRTUAL_ENV,
// $CONDA_PREFIX, the user and the system, found on disk without running Python; then the cache of
// `ovis-image setup cuda` ($XDG_CACHE_HOME/ovis-image/cublas13).
#include "cublaslt_loader.h"

#include <dlfcn.h>
#include <glob.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace ovis::cuda {
namespace {

constexpr const char* kLibName = "libcublasLt.so.13";
constexpr const char* kOldLibName = "libcublasLt.so.12";  // CUDA 12's: found alone, it gets its own message

std::vector<std::string> glob_dirs(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string home() { return env("HOME"); }

// site-packages folders, in the finder's order: venvs named by the environment, the user's, the system's.
std::vector<std::string> site_dirs() {
  std::vector<std::string> patterns;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    const std::string v = env(var);
    if (!v.empty()) patterns.push_back(v + "/lib/python3*/site-packages");
  }
  const std::string h = home();
  if (!h.empty()) {
    patterns.push_back(h + "/.local/lib/python3*/site-packages");
    patterns.push_back(h + "/.pyenv/versions/*/lib/python3*/site-packages");
    for (const char* conda : {"miniconda3", "anaconda3", "miniforge3"})
      patterns.push_back(h + "/" + conda + "/lib/python3*/site-packages");
  }
  for (const char* p : {"/opt/conda/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
                        "/usr/local/lib/python3*/site-packages", "/usr/lib/python3/dist-packages",
                        "/usr/lib/python3*/site-packages", "/usr/lib64/python3*/site-packages"})
    patterns.push_back(p);
  std::vector<std::string> out;
  for (auto& p : patterns)
    for (auto& d : glob_dirs(p)) out.push_back(d);
  return out;
}

std::string cache_dir() {
  const std::string xdg = env("XDG_CACHE_HOME");
  const std::string base = !xdg.empty() ? xdg : (home().empty() ? std::string() : home() + "/.cache");
  return base.empty() ? std::string() : base + "/ovis-image/cublas13";
}

// Folders after the dynamic loader's own search, in order.
std::vector<std::string> candidate_dirs() {
  std::vector<std::string> dirs;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    const std::string v = env(var);
    if (!v.empty()) {
      dirs.push_back(v + "/lib64");
      dirs.push_back(v + "/lib");
    }
  }
  dirs.push_back("/usr/local/cuda/lib64");
  for (auto& d : glob_dirs("/usr/local/cuda-*")) dirs.push_back(d + "/lib64");
  for (auto& site : site_dirs())
    for (const char* sub : {"/nvidia/cu13/lib", "/nvidia/cublas/lib", "/torch/lib"}) dirs.push_back(site + sub);
  const std::string cache = cache_dir();
  if (!cache.empty()) dirs.push_back(cache);
  return dirs;
}

void* try_open(const std::string& file, std::vector<std::string>& tried, std::string& last_error) {
  tried.push_back(file);
  void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    // "cannot open shared object file" is the expected miss; anything else (wrong arch, missing
    // dependency) is worth showing.
    if (e && std::string(e).find("No such file") == std::string::npos) last_error = e;
  }
  return h;
}

template <class F>
void resolve(void* h, F& fn, const char* sym, std::vector<std::string>& missing) {
  fn = reinterpret_cast<F>(dlsym(h, sym));
  if (!fn) missing.push_back(sym);
}

// The message when no libcublasLt.so.13 loads: every file tried, and CUDA 12's copies when that is all there is.
std::string not_found_message(const std::vector<std::string>& tried, const std::string& last_error) {
  std::string msg = std::string("CUDA backend unavailable: cuBLASLt (") + kLibName + ") was not found.";
  std::vector<std::string> old;
  for (auto& d : candidate_dirs()) {
    const std::string f = d + "/" + kOldLibName;
    if (access(f.c_str(), R_OK) == 0) old.push_back(f);
  }
  if (!old.empty()) {
    msg += " Found CUDA 12's cuBLAS (" + old.front() + "), but this build needs CUDA 13's " + kLibName + ".";
  }
  msg += " Searched: ";
  for (size_t i = 0; i < tried.size(); ++i) msg += (i ? ", " : "") + tried[i];
  if (!last_error.empty()) msg += ". Last loader error: " + last_error;
  msg +=
      ". Run `ovis-image setup cuda` (downloads NVIDIA's cuBLAS 13 into the ovis-image cache), or "
      "`python3 -m pip install nvidia-cublas`, or install the CUDA 13 toolkit, or set OVIS_CUBLASLT_PATH to "
      "the file.";
  return msg;
}

CublasLtApi load() {
  std::vector<std::string> tried;
  std::string last_error;
  void* h = nullptr;
  std::string path;
  auto attempt = [&](const std::string& file) {
    if (!h && (h = try_open(file, tried, last_error))) path = file;
  };
  const std::string override_path = env("OVIS_CUBLASLT_PATH");
  if (!override_path.empty()) {
    attempt(override_path);
    attempt(override_path + "/" + kLibName);
  }
  attempt(kLibName);  // LD_LIBRARY_PATH, rpath, ldconfig cache
  if (!h)
    for (auto& d : candidate_dirs()) attempt(d + "/" + kLibName);
  if (!h) throw Error("OVIS_UNAVAILABLE", not_found_message(tried, last_error));
  CublasLtApi api;
  api.path = path;
  std::vector<std::string> missing;
  resolve(h, api.GetVersion, "cublasLtGetVersion", missing);
  resolve(h, api.Create, "cublasLtCreate", missing);
  resolve(h, api.Destroy, "cublasLtDestroy", missing);
  resolve(h, api.MatmulDescCreate, "cublasLtMatmulDescCreate", missing);
  resolve(h, api.MatmulDescDestroy, "cublasLtMatmulDescDestroy", missing);
  resolve(h, api.MatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", missing);
  resolve(h, api.MatrixLayoutCreate, "cublasLtMatrixLayoutCreate", missing);
  resolve(h, api.MatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", missing);
  resolve(h, api.MatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", missing);
  resolve(h, api.MatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", missing);
  resolve(h, api.MatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", missing);
  resolve(h, api.MatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", missing);
  resolve(h, api.Matmul, "cublasLtMatmul", missing);
  if (!missing.empty()) {
    std::string msg = "CUDA backend unavailable: " + path + " lacks symbols:";
    for (auto& m : missing) msg += " " + m;
    dlclose(h);
    throw Error("OVIS_UNAVAILABLE", msg);
  }
  // The library handle stays open for the life of the process (the table points into it).
  return api;
}

}  // namespace

const CublasLtApi& load_cublaslt() {
  static std::mutex mu;
  static std::unique_ptr<CublasLtApi> api;
  std::lock_guard<std::mutex> lock(mu);
  if (!api) api = std::make_unique<CublasLtApi>(load());  // a failed load throws and is retried next time
  return *api;
}

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
    default:
      return "CUBLAS_STATUS_UNKNOWN";
  }
}

}  // namespace ovis::cuda
