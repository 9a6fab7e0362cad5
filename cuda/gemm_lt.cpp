// cuBLASLt GEMM with a per-shape plan cache (descriptors + heuristic algorithm).
#include "gemm_lt.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "cuda_check.h"

namespace ovis::cuda {
namespace {

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::BF16:
      return CUDA_R_16BF;
    case DType::F16:
      return CUDA_R_16F;
    default:
      fail("OVIS_INTERNAL", "gemm: unsupported dtype");
  }
}

// Largest power of two (<= 256) dividing the address: what cuBLASLt may assume about the pointer.
uint32_t alignment_of(const void* p) {
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  if (v == 0) return 256;
  uintptr_t a = v & (~v + 1);
  return uint32_t(a > 256 ? 256 : a);
}

void lt_check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  if (s == CUBLAS_STATUS_ALLOC_FAILED)
    throw Error("OVIS_OUT_OF_MEMORY", std::string("cuBLASLt out of memory in ") + what);
  throw Error("OVIS_BACKEND", std::string("cuBLASLt ") + what + " failed: " + cublas_status_name(s));
}

}  // namespace

struct GemmRunner::Plan {
  const CublasLtApi* api = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool use_lt = false;  // false: cuBLASLt found no algorithm, use the fallback kernel
  ~Plan() {
    if (ld) api->MatrixLayoutDestroy(ld);
    if (lb) api->MatrixLayoutDestroy(lb);
    if (la) api->MatrixLayoutDestroy(la);
    if (desc) api->MatmulDescDestroy(desc);
  }
};

GemmRunner::GemmRunner(const CublasLtApi& api, cudaStream_t stream, std::shared_ptr<DeviceAllocator> alloc,
                       PathStats& stats)
    : api_(api), stream_(stream), alloc_(std::move(alloc)), stats_(stats) {
  lt_check(api_.Create(&handle_), "cublasLtCreate");
  workspace_bytes_ = size_t(32) << 20;
  workspace_ = alloc_->allocate(workspace_bytes_);
}

GemmRunner::~GemmRunner() {
  plans_.clear();
  if (handle_) api_.Destroy(handle_);
}

GemmRunner::Plan& GemmRunner::plan_for(const GemmArgs& g) {
  const uint32_t align_a = alignment_of(g.a), align_b = alignment_of(g.b), align_d = alignment_of(g.d),
                 align_bias = g.bias ? alignment_of(g.bias) : 256;
  // Alignments are part of the key: the chosen algorithm may rely on them.
  const uint32_t aligns = (std::min(align_a, 255u)) | (std::min(align_b, 255u) << 8) | (std::min(align_d, 255u) << 16) |
                          (std::min(align_bias, 255u) << 24);
  Key key{int(g.trans_a) | (int(g.trans_b) << 1) | (g.bias ? 4 : 0),
          0,
          g.m,
          g.n,
          g.k,
          g.lda,
          g.ldb,
          g.ldd,
          int(g.ab_type),
          int(g.d_type),
          0,
          aligns};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  auto plan = std::make_unique<Plan>();
  plan->api = &api_;
  const cudaDataType_t tab = cuda_type(g.ab_type), td = cuda_type(g.d_type);
  lt_check(api_.MatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "MatmulDescCreate");
  cublasOperation_t ta = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  lt_check(api_.MatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "set TRANSA");
  lt_check(api_.MatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "set TRANSB");
  if (g.bias) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    lt_check(api_.MatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), "set EPILOGUE");
    // Bias elements have D's dtype (the default); the heuristic reads the pointer for its alignment.
    lt_check(api_.MatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias),
             "set BIAS_POINTER");
  }
  // Stored shapes (column-major rows x cols).
  const uint64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const uint64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  lt_check(api_.MatrixLayoutCreate(&plan->la, tab, a_rows, a_cols, g.lda), "layout A");
  lt_check(api_.MatrixLayoutCreate(&plan->lb, tab, b_rows, b_cols, g.ldb), "layout B");
  lt_check(api_.MatrixLayoutCreate(&plan->ld, td, uint64_t(g.m), uint64_t(g.n), g.ldd), "layout D");

  cublasLtMatmulPreference_t pref = nullptr;
  lt_check(api_.MatmulPreferenceCreate(&pref), "MatmulPreferenceCreate");
  uint64_t ws = workspace_bytes_;
  api_.MatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  api_.MatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a);
  api_.MatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b);
  api_.MatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof align_d);
  api_.MatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof align_d);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t s = api_.MatmulAlgoGetHeuristic(handle_, plan->desc, plan->la, plan->lb, plan->ld, plan->ld, pref, 1,
                                                 &result, &found);
  api_.MatmulPreferenceDestroy(pref);
  if (s == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
    plan->algo = result.algo;
    plan->use_lt = true;
  } else if (s != CUBLAS_STATUS_SUCCESS && s != CUBLAS_STATUS_NOT_SUPPORTED) {
    lt_check(s, "MatmulAlgoGetHeuristic");
  }
  auto& ref = *plan;
  plans_.emplace(key, std::move(plan));
  return ref;
}

void GemmRunner::run_fallback(const GemmArgs& g, const char* why) {
  ++stats_.gemm_fallback;
  // Small problems (tiny tests, k == 0) may take the naive kernel; a model-sized one must not.
  constexpr double kLargeMacs = double(1 << 24);
  if (double(g.m) * double(g.n) * double(g.k) >= kLargeMacs) {
    ++stats_.gemm_fallback_large;
    log_slow_path_once("GEMM " + std::to_string(g.m) + " x " + std::to_string(g.n) + " x " + std::to_string(g.k) +
                       " (" + dtype_name(g.ab_type) + " -> " + dtype_name(g.d_type) +
                       ") ran on the naive fallback kernel: " + why);
  }
  launch_gemm_fallback(g, stream_);  // k == 0 gives bias (or zeros); cuBLASLt rejects it
}

void GemmRunner::run(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  const bool ok_types =
      (g.ab_type == DType::F32 && g.d_type == DType::F32) ||
      ((g.ab_type == DType::BF16 || g.ab_type == DType::F16) && (g.d_type == g.ab_type || g.d_type == DType::F32));
  if (!ok_types || g.k == 0) return run_fallback(g, g.k == 0 ? "k == 0" : "dtype pair not supported by cuBLASLt");
  Plan& p = plan_for(g);
  if (!p.use_lt) return run_fallback(g, "cuBLASLt's heuristic found no algorithm");
  ++stats_.gemm_lt;
  if (g.bias)
    lt_check(api_.MatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias),
             "set BIAS_POINTER");
  const float alpha = 1.f, beta = 0.f;
  lt_check(api_.Matmul(handle_, p.desc, &alpha, g.a, p.la, g.b, p.lb, &beta, g.d, p.ld, g.d, p.ld, &p.algo,
                       workspace_.get(), workspace_bytes_, stream_),
           "Matmul");
}

}  // namespace ovis::cuda
