// ovis_op_table: runs the op-case table.
//   test: the CPU backend against the reference loops, every other available backend (CUDA, the CPU with
//         precision bf16) against the CPU backend; relative and max-abs error per segment; slow kernel
//         paths fail the run.
//   perf: time per op on each backend, TFLOP/s or GB/s, and the op's floor at the given peaks.
// Usage: ovis_op_table test|perf [--backend cpu|cuda|all] [--precision bf16|fp32|both] [--sizes small|full|all]
// [--max-work X]
//        [--min-work X] [--op NAME] [--seed N] [--threads N] [--reps N] [--peak-tflops X] [--peak-gbs X]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "compare.h"
#include "core/error.h"
#include "cpu/gemm/gemm_bf16.h"
#include "op_case.h"
#include "reference.h"

using namespace ovis;
using namespace ovis::optable;

namespace {

struct Options {
  std::string mode, backend = "all", precision = "both", op, sizes = "all";
  double max_work = 1e30, min_work = 0, peak_tflops = 0, peak_gbs = 0;
  uint32_t seed = 0;
  int threads = 0, reps = 5;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "ovis_op_table: %s\nusage: ovis_op_table test|perf [--backend cpu|cuda|all] "
               "[--precision bf16|fp32|both] [--sizes small|full|all] [--max-work X] [--min-work X] [--op NAME] "
               "[--seed N] [--threads N] "
               "[--reps N] [--peak-tflops X] [--peak-gbs X]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2 || (std::strcmp(argv[1], "test") != 0 && std::strcmp(argv[1], "perf") != 0))
    usage("mode must be test or perf");
  o.mode = argv[1];
  o.seed = std::random_device{}();
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(a + " needs a value");
    const char* v = argv[++i];
    if (a == "--backend")
      o.backend = v;
    else if (a == "--precision")
      o.precision = v;
    else if (a == "--op")
      o.op = v;
    else if (a == "--sizes")
      o.sizes = v;
    else if (a == "--max-work")
      o.max_work = std::atof(v);
    else if (a == "--min-work")
      o.min_work = std::atof(v);
    else if (a == "--seed")
      o.seed = uint32_t(std::strtoul(v, nullptr, 10));
    else if (a == "--threads")
      o.threads = std::atoi(v);
    else if (a == "--reps")
      o.reps = std::max(1, std::atoi(v));
    else if (a == "--peak-tflops")
      o.peak_tflops = std::atof(v);
    else if (a == "--peak-gbs")
      o.peak_gbs = std::atof(v);
    else
      usage("unknown option " + a);
  }
  return o;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Tensor clone_host(const Tensor& t) {
  Tensor c = host_alloc(t.shape, t.dtype);
  std::memcpy(c.data, t.data, t.nbytes());
  return c;
}

// Fresh device copies of the inputs (in-place ops must not touch the host originals).
std::vector<Tensor> upload_all(Backend& be, const std::vector<Input>& in) {
  std::vector<Tensor> t;
  for (const Input& i : in)
    t.push_back(i.weight ? be.upload_weight(clone_host(i.host)) : be.upload(clone_host(i.host)));
  return t;
}

struct Output {
  Shape shape;
  std::vector<double> values;
};

Output run_case(Backend& be, const OpCase& c, const std::vector<Input>& in) {
  std::vector<Tensor> t = upload_all(be, in);
  const Tensor r = be.to_host_f32(c.run(be, t));
  return {r.shape, ref::values(r)};
}

// GPU inputs are rounded to bf16 first, so backends compared with each other see the same values (the CPU's
// bf16 target rounds inside its products, as it does in use).
void round_to_bf16(std::vector<Input>& in) {
  for (Input& i : in)
    if (i.host.dtype == DType::F32)
      for (int64_t k = 0; k < i.host.numel(); ++k)
        i.host.ptr<float>()[k] = bf16_to_f32(f32_to_bf16(i.host.ptr<float>()[k]));
}

struct Target {
  std::string label;
  std::unique_ptr<Backend> be;
  Tolerance tol;
};

std::vector<Target> targets(const Options& o) {
  std::vector<Target> t;
  if (o.backend == "cpu" || o.backend == "all") {
    if (o.precision != "bf16") t.push_back({"cpu", create_cpu_backend(o.threads), {3e-5, 3e-4}});
    // precision 'bf16' on the CPU (bf16 products in linear and attention), against the f32 CPU backend.
    if (o.precision != "fp32") {
      if (cpu::gemm_bf16_available())
        t.push_back({"cpu bf16", create_cpu_backend(o.threads, true), {2e-2, 8e-2}});
      else
        std::printf("cpu bf16: not available (this CPU has no AVX512-BF16)\n");
    }
  }
  if (o.backend == "cuda" || o.backend == "all") {
    for (const char* p : {"bf16", "fp32"}) {
      if (o.precision != "both" && o.precision != p) continue;
      BackendOptions bo;
      bo.device = "cuda";
      bo.fp32 = std::strcmp(p, "fp32") == 0;
      try {
        t.push_back(
            {std::string("cuda ") + p, create_backend(bo), bo.fp32 ? Tolerance{1e-4, 1e-3} : Tolerance{2e-2, 8e-2}});
      } catch (const Error& e) {
        if (o.backend == "cuda") throw;
        std::printf("cuda %s: not available (%s)\n", p, e.what());
      }
    }
  }
  if (t.empty()) usage("no backend selected");
  return t;
}

bool selected(const Options& o, const OpCase& c) {
  const bool size_ok = o.sizes == "all" || (o.sizes == "full") == is_full_size(c);
  return size_ok && c.work <= o.max_work && c.work >= o.min_work && (o.op.empty() || c.op == o.op);
}

void report(const char* verdict, const OpCase& c, const std::string& target, const std::string& what, double ms) {
  std::printf("%-4s %-18s %-60s %-9s %s (%.0f ms)\n", verdict, c.op.c_str(), c.label.c_str(), target.c_str(),
              what.c_str(), ms);
  std::fflush(stdout);
}

std::string describe(const SegmentError& e) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "rel %.2e, max-abs %.2e of max|ref| (worst: %s)", e.rel, e.max_abs, e.where.c_str());
  return buf;
}

// One case on every target; the CPU backend's output is the expectation for the others.
bool test_case(const OpCase& c, std::vector<Target>& ts, Backend& cpu, uint32_t seed) {
  std::vector<Input> in = c.make(seed);
  const bool has_gpu = std::any_of(ts.begin(), ts.end(), [](const Target& t) { return t.label.rfind("cuda", 0) == 0; });
  if (has_gpu) round_to_bf16(in);
  Output cpu_out;
  bool ok = true;
  for (Target& t : ts) {
    const double t0 = now_ms();
    const bool is_cpu = t.label == "cpu";
    Output got;
    std::vector<double> want;
    try {
      if (!is_cpu && cpu_out.values.empty()) cpu_out = run_case(cpu, c, in);
      got = run_case(*t.be, c, in);
      want = is_cpu ? c.reference(in) : cpu_out.values;
    } catch (const Error& e) {
      report("FAIL", c, t.label, e.code() + ": " + e.what(), now_ms() - t0);
      ok = false;
      continue;
    }
    const Tolerance tol{t.tol.rel * c.tol_scale, t.tol.max_abs * c.tol_scale};
    const SegmentError err = compare_segments(got.values, want, c.segments(got.shape), tol);
    report(err.ok ? "ok" : "FAIL", c, t.label, describe(err), now_ms() - t0);
    ok = ok && err.ok;
  }
  return ok;
}

// Slow kernel paths (a large GEMM on the naive kernel, attention off the flash path) fail the run.
bool paths_ok(const std::vector<Target>& ts) {
  bool ok = true;
  for (const Target& t : ts) {
    if (t.be->path_counts().empty()) continue;
    std::printf("paths %s: %s\n", t.label.c_str(), t.be->path_counts().c_str());
    if (t.be->slow_path_calls() != 0) {
      std::printf("FAIL %s: %lld calls took a slow path\n", t.label.c_str(), (long long)t.be->slow_path_calls());
      ok = false;
    }
  }
  return ok;
}

int run_tests(const Options& o, std::vector<Target>& ts) {
  auto cpu = create_cpu_backend(o.threads);
  int failed = 0, run = 0;
  uint32_t seed = o.seed;
  for (const OpCase& c : all_cases()) {
    if (!selected(o, c)) continue;
    ++run;
    failed += test_case(c, ts, *cpu, seed) ? 0 : 1;
    seed += 101;
  }
  const bool paths = paths_ok(ts);
  std::printf("op table test: %d cases, %d failed, seed %u%s\n", run, failed, o.seed,
              paths ? "" : ", slow paths taken");
  return failed == 0 && paths && run > 0 ? 0 : 1;
}

// Median milliseconds of reps calls after one warm-up (inputs stay on the device).
double time_case(Backend& be, const OpCase& c, const std::vector<Input>& in, int reps) {
  std::vector<double> ms;
  for (int r = 0; r <= reps; ++r) {
    std::vector<Tensor> t = upload_all(be, in);
    be.sync();
    const double t0 = now_ms();
    c.run(be, t);
    be.sync();
    if (r > 0) ms.push_back(now_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double peak_for(const Options& o, const Target& t, bool flops) {
  if (flops)
    return o.peak_tflops > 0 ? o.peak_tflops * 1e12
                             : (t.label == "cuda bf16"   ? 790e12
                                : t.label == "cuda fp32" ? 60e12
                                                         : 0);
  return o.peak_gbs > 0 ? o.peak_gbs * 1e9 : (t.label.rfind("cpu", 0) == 0 ? 0 : 3.35e12);
}

int run_perf(const Options& o, std::vector<Target>& ts) {
  std::printf("| %-18s | %-60s | %-9s | %9s | %12s | %9s | %7s |\n", "op", "case", "backend", "ms", "rate", "floor ms",
              "x floor");
  uint32_t seed = o.seed;
  for (const OpCase& c : all_cases()) {
    if (!selected(o, c)) continue;
    const std::vector<Input> in = c.make(seed += 101);
    for (Target& t : ts) {
      const double ms = time_case(*t.be, c, in, o.reps), peak = peak_for(o, t, c.flops);
      const double rate = c.work / (ms * 1e-3), floor_ms = peak > 0 ? c.work / peak * 1e3 : 0;
      char rate_s[32], floor_s[32], ratio_s[32];
      std::snprintf(rate_s, sizeof rate_s, c.flops ? "%.2f TFLOP/s" : "%.1f GB/s", c.flops ? rate / 1e12 : rate / 1e9);
      std::snprintf(floor_s, sizeof floor_s, peak > 0 ? "%.4f" : "-", floor_ms);
      std::snprintf(ratio_s, sizeof ratio_s, peak > 0 ? "%.1f" : "-", ms / std::max(floor_ms, 1e-9));
      std::printf("| %-18s | %-60s | %-9s | %9.4f | %12s | %9s | %7s |\n", c.op.c_str(), c.label.c_str(),
                  t.label.c_str(), ms, rate_s, floor_s, ratio_s);
      std::fflush(stdout);
    }
  }
  return paths_ok(ts) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    std::vector<Target> ts = targets(o);
    return o.mode == "test" ? run_tests(o, ts) : run_perf(o, ts);
  } catch (const Error& e) {
    std::fprintf(stderr, "ovis_op_table: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
}
