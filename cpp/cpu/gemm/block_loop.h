// The BLIS-style outer loops that gemm() and gemm_bf16() share: NC columns -> KC depth -> the threads pack
// that block of B together -> tasks of MC rows by a share of the B panels, each packing its own A block.
// Every output tile is computed by one task with the same arithmetic whatever the split (the split into
// tasks follows the thread count, the blocking does not), so a result never depends on the number of threads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>

#include "cpu/thread_pool.h"

namespace ovis::cpu {

struct GemmBlocking {
  int64_t nc, kc, mc;  // columns, depth and rows of a packed block
  int64_t nr;          // columns of one B panel
  bool panel_pairs;    // tasks take whole pairs of B panels (the wide kernels read two at once)
};

// Columns [jc, jc + nc) as npanels B panels, at depth [pc, pc + kc).
struct DepthBlock {
  int64_t jc, nc, npanels, pc, kc;
  bool first, last;  // first: C is overwritten, not accumulated; last: the sums are complete after it
};

// Rows [i0, i0 + mc) of A against B panels [p_begin, p_end) of a depth block.
struct BlockTask {
  int64_t i0, mc, p_begin, p_end;
};

// begin(block) runs on the calling thread first (to size the shared B buffer), then pack_b(block, p) for every
// panel p and run(block, task) for every task, spread over the pool when the product is large enough.
template <class Begin, class PackB, class Run>
void for_each_gemm_block(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const GemmBlocking& g, Begin&& begin,
                         PackB&& pack_b, Run&& run) {
  // Small products are not worth waking the workers.
  const bool parallel = pool && pool->size() > 1 && double(M) * double(N) * double(K) > 3.0e5;
  const int threads = parallel ? pool->size() : 1;
  auto for_each = [&](int64_t n, const std::function<void(int64_t)>& fn) {
    if (parallel)
      pool->parallel_for(n, fn);
    else
      for (int64_t i = 0; i < n; ++i) fn(i);
  };
  for (int64_t jc = 0; jc < N; jc += g.nc) {
    const int64_t nc = std::min(g.nc, N - jc);
    const int64_t npanels = (nc + g.nr - 1) / g.nr;
    for (int64_t pc = 0; pc < K; pc += g.kc) {
      const int64_t kc = std::min(g.kc, K - pc);
      const DepthBlock block{jc, nc, npanels, pc, kc, pc == 0, pc + kc == K};
      begin(block);
      for_each(npanels, [&](int64_t p) { pack_b(block, p); });
      const int64_t ic_blocks = (M + g.mc - 1) / g.mc;
      // Enough tasks for balance (dynamic scheduling); splitting the panels only re-packs a small A block.
      int64_t nsplit = (int64_t(8) * threads + ic_blocks - 1) / ic_blocks;
      nsplit = threads == 1 ? 1 : std::max<int64_t>(1, std::min(nsplit, npanels));
      int64_t per_split = (npanels + nsplit - 1) / nsplit;
      if (g.panel_pairs) per_split += per_split % 2;
      for_each(ic_blocks * nsplit, [&](int64_t t) {
        const int64_t ib = t / nsplit, s = t % nsplit;
        const int64_t p_begin = s * per_split, p_end = std::min(npanels, p_begin + per_split);
        if (p_begin >= p_end) return;
        const int64_t i0 = ib * g.mc;
        run(block, BlockTask{i0, std::min(g.mc, M - i0), p_begin, p_end});
      });
    }
  }
}

}  // namespace ovis::cpu
