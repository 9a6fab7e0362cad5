// Command-line options of ovis_cuda_tests, read by the tests (set by cuda_test_main.cpp).
#pragma once
#include <string>

namespace ovis_cuda_test {

struct Options {
  bool quick = false;  // --quick: small shapes only (skip the full-size op shapes and blocks)
  // --device cpu: the golden tests build their engines on the CPU backend instead, to check the
  // tests themselves on a machine without a GPU (the op tests then fail: they need CUDA).
  std::string device = "cuda";
};
Options& options();

}  // namespace ovis_cuda_test
