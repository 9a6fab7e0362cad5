// ovis_cost_model: prints the cost model's prediction (bench/cuda/cost_model.h) without a GPU.
// Usage: ovis_cost_model [--size N | --size WxH] [--steps N] [--batch B]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cost_model.h"

int main(int argc, char** argv) {
  ovis::bench::Workload w;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--size") {
      const auto x = value.find('x');
      w.width = std::atoll(value.c_str());
      w.height = x == std::string::npos ? w.width : std::atoll(value.c_str() + x + 1);
    } else if (key == "--steps") {
      w.steps = std::atoll(value.c_str());
    } else if (key == "--batch") {
      w.batch = std::atoll(value.c_str());
    } else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  if (w.width < 16 || w.height < 16 || w.width % 16 || w.height % 16 || w.steps < 1 || w.batch < 1) {
    std::fprintf(stderr, "size must be a multiple of 16 (>= 16); steps and batch >= 1\n");
    return 2;
  }
  std::fputs(ovis::bench::cost_report(w, ovis::bench::h100_sxm_datasheet()).c_str(), stdout);
  return 0;
}
