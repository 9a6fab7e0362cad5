// group_norm: GroupNorm over x [B, C, H, W] with affine w, b [C], optional fused SiLU.
// A group is contiguous (cpg channels x HW). Statistics in three steps so large images use the whole
// GPU: per-chunk (count, mean, M2) by two passes, then Chan's exact merge per group, then the apply.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {
namespace {

constexpr int64_t kChunk = 16384;
constexpr int64_t kMaxChunks = 4096;

int64_t chunks_per_group(int64_t group_elems) {
  const int64_t c = (group_elems + kChunk - 1) / kChunk;
  return std::max<int64_t>(1, std::min<int64_t>(c, kMaxChunks));
}

__device__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // red may still be read from a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = 0.f;
  for (int i = 0; i < warps; ++i) t += red[i];
  return t;
}

template <class TX>
__global__ void group_stats_partial(const TX* x, float* partial, int64_t group_elems, int64_t chunks) {
  __shared__ float red[32];
  const int64_t group = blockIdx.y, chunk = blockIdx.x;
  const int64_t per = (group_elems + chunks - 1) / chunks;
  const int64_t begin = chunk * per < group_elems ? chunk * per : group_elems;
  const int64_t end = begin + per < group_elems ? begin + per : group_elems;
  const TX* xg = x + group * group_elems;
  float s = 0.f;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) s += to_f32(xg[i]);
  const float count = float(end - begin);
  const float mean = count > 0 ? block_sum(s, red) / count : 0.f;
  float m2 = 0.f;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float d = to_f32(xg[i]) - mean;
    m2 += d * d;
  }
  m2 = block_sum(m2, red);
  if (threadIdx.x == 0) {
    float* p = partial + (group * chunks + chunk) * 3;
    p[0] = count;
    p[1] = mean;
    p[2] = m2;
  }
}

__global__ void group_stats_merge(const float* partial, float* stats, int64_t groups_total, int64_t chunks, float eps) {
  const int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= groups_total) return;
  double n = 0, mean = 0, m2 = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    const float* p = partial + (g * chunks + c) * 3;
    const double nb = p[0];
    if (nb == 0) continue;
    const double delta = double(p[1]) - mean, nab = n + nb;
    mean += delta * nb / nab;
    m2 += double(p[2]) + delta * delta * n * nb / nab;
    n = nab;
  }
  stats[g * 2] = float(mean);
  stats[g * 2 + 1] = float(1.0 / sqrt(m2 / (n > 0 ? n : 1) + double(eps)));
}

template <class TX, class TY>
__global__ void group_norm_apply(const TX* x, const void* w, DType tw, const void* b, DType tb, TY* y,
                                 const float* stats, int64_t channels, int64_t hw, int64_t cpg, bool silu, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const int64_t bc = i / hw, c = bc % channels, bi = bc / channels;
    const int64_t g = bi * (channels / cpg) + c / cpg;
    float v = (to_f32(x[i]) - stats[g * 2]) * stats[g * 2 + 1] * load_any(w, tw, c) + load_any(b, tb, c);
    if (silu) v = v / (1.f + expf(-v));
    y[i] = from_f32<TY>(v);
  }
}

}  // namespace

size_t group_norm_scratch_bytes(int64_t batch, int groups, int64_t channels, int64_t hw) {
  const int64_t group_elems = channels / groups * hw;
  return size_t(batch * groups) * size_t(chunks_per_group(group_elems) * 3 + 2) * sizeof(float);
}

void launch_group_norm(const void* x, DType tx, const void* w, DType tw, const void* b, DType tb, void* y, DType ty,
                       int64_t batch, int64_t channels, int64_t hw, int groups, float eps, bool silu, void* scratch,
                       cudaStream_t s) {
  const int64_t n = batch * channels * hw;
  if (n == 0) return;
  require_float_dtype(tw);
  require_float_dtype(tb);
  const int64_t cpg = channels / groups, group_elems = cpg * hw, groups_total = batch * groups;
  const int64_t chunks = chunks_per_group(group_elems);
  if (groups_total > 65535) fail("OVIS_BAD_ARGUMENT", "group_norm: batch * groups too large");
  float* partial = static_cast<float*>(scratch);
  float* stats = partial + groups_total * chunks * 3;
  dispatch_float(tx, [&](auto a) {
    using TX = decltype(a);
    group_stats_partial<TX><<<dim3(unsigned(chunks), unsigned(groups_total)), kThreads, 0, s>>>(
        static_cast<const TX*>(x), partial, group_elems, chunks);
    CUDA_CHECK_LAUNCH();
    group_stats_merge<<<unsigned((groups_total + 127) / 128), 128, 0, s>>>(partial, stats, groups_total, chunks, eps);
    CUDA_CHECK_LAUNCH();
    dispatch_float(ty, [&](auto bb) {
      using TY = decltype(bb);
      group_norm_apply<TX, TY><<<grid_for(n), kThreads, 0, s>>>(static_cast<const TX*>(x), w, tw, b, tb,
                                                                static_cast<TY*>(y), stats, channels, hw, cpg, silu, n);
    });
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
