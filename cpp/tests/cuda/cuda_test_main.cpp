// ovis_cuda_tests runner: the CUDA-vs-CPU op tests (test_cuda_ops.cpp) and the golden parity tests on
// the CUDA backend (test_cuda_golden.cpp), registered with tests/testing.h's TEST.
// Usage: ovis_cuda_tests [--quick] [--list] [--device cpu] [FILTER...]  |  ovis_cuda_tests --probe
//   --probe  prints the CUDA driver version and each device's name and arch (CUDA runtime, no
//            nvidia-smi needed); exits 3 when there is no usable GPU.
//   --quick  small shapes only;  FILTER  run the tests whose name contains any FILTER (all when none);
//   --device cpu  golden tests on the CPU backend (checks the tests without a GPU).
// Without a CUDA device it prints "no CUDA device: skipped" and exits 0.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "core/backend.h"
#include "cuda_test_options.h"
#include "tests/testing.h"

namespace ovis_cuda_test {
Options& options() {
  static Options o;
  return o;
}
}  // namespace ovis_cuda_test

namespace {
int probe() {
  int driver = 0, n = 0;
  const cudaError_t e1 = cudaDriverGetVersion(&driver);
  const cudaError_t e2 = cudaGetDeviceCount(&n);
  if (e1 != cudaSuccess || driver == 0 || e2 != cudaSuccess || n == 0) {
    std::printf("no GPU: %s\n", e2 != cudaSuccess ? cudaGetErrorString(e2) : "no CUDA driver or no device");
    return 3;
  }
  std::printf("driver: CUDA %d.%d\n", driver / 1000, (driver % 1000) / 10);
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    std::printf("device %d: %s, sm_%d%d, %.1f GiB\n", i, p.name, p.major, p.minor,
                double(p.totalGlobalMem) / (1 << 30));
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--probe") == 0) return probe();
  std::vector<std::string> filters;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      ovis_cuda_test::options().quick = true;
    } else if (std::strcmp(argv[i], "--list") == 0) {
      list = true;
    } else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
      ovis_cuda_test::options().device = argv[++i];
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "usage: %s [--quick] [--list] [--device cpu] [FILTER...]\n", argv[0]);
      return 2;
    } else {
      filters.emplace_back(argv[i]);
    }
  }
  auto selected = [&](const char* name) {
    if (filters.empty()) return true;
    for (const std::string& f : filters)
      if (std::strstr(name, f.c_str())) return true;
    return false;
  };
  if (list) {
    for (const auto& t : ovis_test::registry())
      if (selected(t.name)) std::printf("%s\n", t.name);
    return 0;
  }
  const std::string& device = ovis_cuda_test::options().device;
  if (device != "cuda" && device != "cpu") {
    std::fprintf(stderr, "--device must be cuda or cpu\n");
    return 2;
  }
  int devices = 0;
  try {
    devices = ovis::cuda_device_count();
  } catch (const std::exception& e) {
    std::printf("cuda_device_count threw: %s\n", e.what());
  }
  if (devices == 0 && device == "cuda") {
    std::printf("no CUDA device: skipped\n");
    return 0;
  }
  int passed = 0, failed = 0;
  for (const auto& t : ovis_test::registry()) {
    if (!selected(t.name)) continue;
    std::printf("[ RUN ] %s\n", t.name);
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    std::string error;
    try {
      t.fn();
    } catch (const ovis::Error& e) {
      error = std::string("uncaught ovis::Error ") + e.code() + ": " + e.what();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (error.empty()) {
      ++passed;
      std::printf("[  OK ] %s (%.0f ms)\n", t.name, ms);
    } else {
      ++failed;
      std::printf("[ FAIL] %s: %s\n", t.name, error.c_str());
    }
    std::fflush(stdout);
  }
  if (passed + failed == 0) {
    std::printf("no test matches the filter\n");
    return 1;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
