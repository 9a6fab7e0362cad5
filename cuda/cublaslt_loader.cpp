// Finds and dlopens libcublasLt.so.13, then resolves the functions in CublasLtApi.
// Search order: $OVIS_CUBLASLT_PATH (file or folder), the dynamic loader (LD_LIBRARY_PATH, ldconfig),
// CUDA toolkits ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda*), Python site-packages (nvidia-cublas wheels:
// nvidia/cu13/lib, nvidia/cublas/lib; PyTorch: torch/lib) in common prefixes and as python3 reports them.
#include "cublaslt_loader.h"

#include <dlfcn.h>
#include <glob.h>

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

std::vector<std::string> glob_dirs(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern.c_str(), GLOB_ONLYDIR | GLOB_NOSORT, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// site-packages folders as the default python3 reports them (empty when there is no python3).
std::vector<std::string> python_site_dirs() {
  std::vector<std::string> out;
  FILE* p = popen(
      "python3 -c \"import site,sys; print('\\n'.join(site.getsitepackages()+[site.getusersitepackages()]))\" "
      "2>/dev/null",
      "r");
  if (!p) return out;
  char line[4096];
  while (fgets(line, sizeof line, p)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (!s.empty()) out.push_back(s);
  }
  pclose(p);
  return out;
}

// Library folders inside one site-packages folder.
void add_site(std::vector<std::string>& dirs, const std::string& site) {
  dirs.push_back(site + "/nvidia/cu13/lib");
  dirs.push_back(site + "/nvidia/cublas/lib");
  dirs.push_back(site + "/torch/lib");
}

std::vector<std::string> candidate_dirs() {
  std::vector<std::string> dirs;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"}) {
    std::string v = env(var);
    if (!v.empty()) {
      dirs.push_back(v + "/lib64");
      dirs.push_back(v + "/lib");
    }
  }
  dirs.push_back("/usr/local/cuda/lib64");
  for (auto& d : glob_dirs("/usr/local/cuda-13*")) dirs.push_back(d + "/lib64");
  dirs.push_back("/usr/lib/x86_64-linux-gnu");
  dirs.push_back("/usr/lib/aarch64-linux-gnu");
  std::vector<std::string> sites;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    std::string v = env(var);
    if (!v.empty())
      for (auto& d : glob_dirs(v + "/lib/python3*/site-packages")) sites.push_back(d);
  }
  std::string home = env("HOME");
  if (!home.empty()) {
    for (auto& d : glob_dirs(home + "/.local/lib/python3*/site-packages")) sites.push_back(d);
    for (auto& d : glob_dirs(home + "/.pyenv/versions/*/lib/python3*/site-packages")) sites.push_back(d);
    for (auto& d : glob_dirs(home + "/miniconda3/lib/python3*/site-packages")) sites.push_back(d);
    for (auto& d : glob_dirs(home + "/anaconda3/lib/python3*/site-packages")) sites.push_back(d);
  }
  for (auto& d : glob_dirs("/usr/local/lib/python3*/dist-packages")) sites.push_back(d);
  for (auto& d : glob_dirs("/usr/local/lib/python3*/site-packages")) sites.push_back(d);
  for (auto& d : glob_dirs("/usr/lib/python3*/dist-packages")) sites.push_back(d);
  for (auto& d : glob_dirs("/opt/conda/lib/python3*/site-packages")) sites.push_back(d);
  for (auto& s : sites) add_site(dirs, s);
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

template <class F> void resolve(void* h, F& fn, const char* sym, std::vector<std::string>& missing) {
  fn = reinterpret_cast<F>(dlsym(h, sym));
  if (!fn) missing.push_back(sym);
}

CublasLtApi load() {
  std::vector<std::string> tried;
  std::string last_error;
  void* h = nullptr;
  std::string path;
  auto attempt = [&](const std::string& file) {
    if (!h && (h = try_open(file, tried, last_error))) path = file;
  };
  std::string override_path = env("OVIS_CUBLASLT_PATH");
  if (!override_path.empty()) {
    attempt(override_path);
    attempt(override_path + "/" + kLibName);
  }
  attempt(kLibName);  // LD_LIBRARY_PATH, rpath, ldconfig cache
  if (!h)
    for (auto& d : candidate_dirs()) attempt(d + "/" + kLibName);
  if (!h)
    for (auto& s : python_site_dirs()) {
      std::vector<std::string> dirs;
      add_site(dirs, s);
      for (auto& d : dirs) attempt(d + "/" + kLibName);
    }
  if (!h) {
    std::string msg = std::string("CUDA backend unavailable: cuBLASLt (") + kLibName + ") was not found. Searched: ";
    for (size_t i = 0; i < tried.size(); ++i) msg += (i ? ", " : "") + tried[i];
    if (!last_error.empty()) msg += ". Last loader error: " + last_error;
    msg +=
        ". Install it with `python3 -m pip install nvidia-cublas` (CUDA 13 wheels), or install the CUDA 13 "
        "toolkit, or add the folder holding " + std::string(kLibName) +
        " to LD_LIBRARY_PATH, or set OVIS_CUBLASLT_PATH to that file.";
    throw Error("OVIS_UNAVAILABLE", msg);
  }
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
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

}  // namespace ovis::cuda
