#!/usr/bin/env bash
# gpu-check.sh: everything a GPU machine should check, in one call that stays within a time budget.
#
#   bash scripts/gpu-check.sh            (from anywhere; it runs in the repository root)
#
# Steps, most valuable first, each with its own timeout, all clipped to the overall budget:
#   environment (nvidia-smi, nvcc, node) -> CUDA build of one arch (detected from nvidia-smi) ->
#   ovis_cuda_tests --quick (ops vs CPU) -> golden parity on CUDA, fp32 then bf16 (whole tiny models and
#   pipelines p1..p3) -> ovis_cuda_tests full-size ops and MMDiT blocks -> ovis_bench_gpu at 1024^2 with
#   10 steps (per step and a 50-step estimate) -> when node and node_modules exist: the CUDA addon (the
#   same cmake build, target ovis_image) and the golden vitest files with OVIS_TEST_DEVICE=cuda in fp32
#   and bf16 -> ovis_tests (the CPU C++ tests, last: they do not need the GPU).
# Without a GPU (or nvcc) the GPU steps are skipped with the reason; the build still runs as a compile check.
# Full logs: $OUT/gpu-check-logs/ when $OUT is set (the device tool copies $OUT back), else ./gpu-check-logs/.
# The summary table (step, result, seconds) is printed last and saved as summary.md next to the logs.
# Exit status: 0 when nothing failed or timed out.
#
# Env: BUILD_DIR (default build-cuda), OVIS_CUDA_ARCHS (default: this GPU's arch, 90a without one),
#      GPU_CHECK_BUDGET_S (default 450: the whole run, so that it ends within 8 minutes),
#      JOBS (default: all cores), GPU_CHECK_BENCH_STEPS (default 10).
# On the device machine (whose copy of the tree lacks gitignored files), carry node_modules.tgz for the
# vitest steps: see "node_modules.tgz" below.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-cuda}
BUDGET=${GPU_CHECK_BUDGET_S:-450}
BENCH_STEPS=${GPU_CHECK_BENCH_STEPS:-10}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
LOG_DIR=${OUT:+$OUT/gpu-check-logs}
LOG_DIR=${LOG_DIR:-$ROOT/gpu-check-logs}
mkdir -p "$LOG_DIR"
export OVIS_GOLDEN_DIR="$ROOT/test/fixtures/golden"

names=() results=() times=()
failures=0
step_no=0

summary() {
  local line
  line=$(printf -- '-%.0s' {1..34})
  {
    echo
    echo "## gpu-check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), ${SECONDS}s of ${BUDGET}s budget; logs in $LOG_DIR)"
    printf '| %-34s | %-44s | %6s |\n' step result "time s"
    printf '| %-34s | %-44s | %6s |\n' "$line" "${line}----------" "------"
    for i in "${!names[@]}"; do printf '| %-34s | %-44s | %6s |\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"; done
  } | tee "$LOG_DIR/summary.md"
}
trap summary EXIT
trap 'exit 130' INT TERM

record() { names+=("$1") results+=("$2") times+=("$3"); }
skip() { record "$1" "SKIP: $2" 0; }

# step <name> <timeout s> <command...>: runs it with its output in its own log (and the log's tail on
# stdout); the timeout is clipped to what is left of the budget. Returns the command's status.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - SECONDS - 5))
  if [ "$left" -lt 15 ]; then
    skip "$name" "out of time budget"
    return 125
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  step_no=$((step_no + 1))
  local log
  log="$LOG_DIR/$(printf '%02d' $step_no)-$(echo "$name" | tr -c 'A-Za-z0-9_.-' '_' | sed 's/_*$//').log"
  echo "=== [$step_no] $name (timeout ${limit}s; log $log)"
  local t0=$SECONDS rc=0
  { echo "\$ $*"; echo; } >"$log"
  # A shell function (exported with export -f) runs in a child bash, so that timeout can stop it.
  if declare -F "$1" >/dev/null; then set -- bash -c '"$@"' "$1" "$@"; fi
  timeout --signal=TERM --kill-after=5 "$limit" "$@" >>"$log" 2>&1 </dev/null || rc=$?
  local res=PASS
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    res="TIMEOUT (${limit}s)"
  elif [ $rc -ne 0 ]; then
    res="FAIL (rc $rc)"
  fi
  # A GPU step whose program found no CUDA device "passed" without testing anything.
  if [ "$res" = PASS ] && [ -n "${FAIL_IF_LOG_HAS:-}" ] && grep -q "$FAIL_IF_LOG_HAS" "$log"; then
    res="FAIL: CUDA sees no device"
  fi
  [ "$res" != PASS ] && failures=$((failures + 1))
  tail -n 15 "$log" | sed 's/^/    /'
  # Name what failed: the C++ runners' failing tests (up to 4), else vitest's "Tests ..." line; a
  # timeout names the C++ test that was running.
  if [ "$res" != PASS ]; then
    local detail="" plain
    plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
    if [ "${res:0:4}" = FAIL ]; then
      detail=$(grep -E '^\[ ?FAIL\]' <<<"$plain" | sed -E 's/^\[ ?FAIL\] ([^:]*).*/\1/' | head -4 | paste -sd, -)
      [ -z "$detail" ] && detail=$(grep -E '^ *Tests +[0-9]' <<<"$plain" | tail -1 | tr -s ' ' | sed 's/^ //')
    else
      detail=$(grep -E '^\[ RUN \]' <<<"$plain" | tail -1 | sed 's/^\[ RUN \] /in /')
    fi
    [ -n "$detail" ] && res="$res: $detail"
  fi
  record "$name" "${res:0:120}" $((SECONDS - t0))
  return $rc
}

# ---- environment -------------------------------------------------------------------------------
gpu_ok=0
nvcc_ok=0
NVCC=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
[ -n "$NVCC" ] && nvcc_ok=1
env_info() {
  echo "repo: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
  echo "cores: $JOBS; budget ${BUDGET}s"
  if command -v nvidia-smi >/dev/null 2>&1; then timeout 20 nvidia-smi || true; else echo "nvidia-smi: not found"; fi
  if [ -n "$NVCC" ]; then "$NVCC" --version | tail -2; else echo "nvcc: not found"; fi
  echo "cmake: $(cmake --version 2>/dev/null | head -1)"
  echo "node: $(command -v node >/dev/null 2>&1 && node -v || echo 'not found'); node_modules: $([ -d node_modules ] && echo present || echo absent)"
}
export ROOT NVCC JOBS BUDGET BUILD_DIR
export -f env_info
step "environment" 30 env_info
# (timeouts: a wedged driver can make nvidia-smi hang)
if command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then gpu_ok=1; fi

archs=${OVIS_CUDA_ARCHS:-}
if [ -z "$archs" ]; then
  cc=$(timeout 20 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  case "$cc" in
    90) archs=90a ;;  # Hopper: the arch-specific features the kernels may use
    [0-9][0-9] | [0-9][0-9][0-9]) archs=$cc ;;
    *) archs=90a ;;  # no GPU: one arch is enough for a compile check
  esac
fi
echo "GPU: $([ $gpu_ok -eq 1 ] && timeout 20 nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo none); CUDA arch: $archs"

# node_modules is gitignored, so the device tool does not copy it (and it is over its 64 MiB limit):
# carry node_modules.tgz instead (*.tgz is gitignored too), made here with
#   tar -czf node_modules.tgz --exclude=node_modules/typescript --exclude=node_modules/@types node_modules
if [ ! -d node_modules ] && [ -f node_modules.tgz ] && command -v node >/dev/null 2>&1; then
  step "unpack node_modules.tgz" 60 tar -xzf node_modules.tgz
fi

# The CUDA addon comes from the same cmake build (target ovis_image) when node's headers are on disk:
# cmake-js would download them, and the GPU machine may have no network.
node_ok=0
node_inc=""
if command -v node >/dev/null 2>&1 && [ -f node_modules/vitest/package.json ] && [ -d node_modules/node-addon-api ]; then
  node_ok=1
  ver=$(node -p 'process.version' 2>/dev/null)
  for d in "$(dirname "$(dirname "$(command -v node)")")/include/node" "$HOME/.cmake-js/node-x64/$ver/include/node" \
           "$HOME/.cache/node-gyp/${ver#v}/include/node"; do
    if [ -f "$d/node_api.h" ]; then node_inc=$d; break; fi
  done
fi

# ---- build ---------------------------------------------------------------------------------------
cfg=(-S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DOVIS_TESTS=ON -DOVIS_BENCH=ON)
if [ $nvcc_ok -eq 1 ]; then
  cfg+=(-DOVIS_CUDA=ON "-DOVIS_CUDA_ARCHS=$archs")
  [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null 2>&1 && cfg+=("-DCMAKE_CUDA_COMPILER=$NVCC")
  inc=$(timeout 60 bash scripts/ensure-cublas.sh 2>>"$LOG_DIR/ensure-cublas.log") && [ -n "$inc" ] && cfg+=("-DOVIS_CUBLAS_INCLUDE=$inc")
else
  cfg+=(-DOVIS_CUDA=OFF)
fi
if [ $nvcc_ok -eq 1 ] && [ -n "$node_inc" ]; then cfg+=("-DCMAKE_JS_INC=$node_inc"); else cfg+=(-UCMAKE_JS_INC); fi

built=0
if step "configure (arch $archs)" 90 cmake "${cfg[@]}"; then
  targets=(ovis_tests)
  [ $nvcc_ok -eq 1 ] && targets=(ovis_core ovis_cuda_tests ovis_bench_gpu ovis_tests)
  build_all() {  # every target even when one fails, so that what built can still run
    local rc=0 t
    for t in "$@"; do cmake --build "$BUILD_DIR" -j "$JOBS" --target "$t" || rc=1; done
    return $rc
  }
  export -f build_all
  step "build ($([ $nvcc_ok -eq 1 ] && echo CUDA + CPU || echo CPU only))" 300 build_all "${targets[@]}"
  built=1  # even after a failure: each later step checks for its own executable
else
  skip "build" "configure failed"
fi

exe() { [ $built -eq 1 ] && [ -x "$BUILD_DIR/$1" ]; }
why_not_gpu() {
  if [ $nvcc_ok -eq 0 ]; then echo "no nvcc"; elif [ $gpu_ok -eq 0 ]; then echo "no GPU"; else echo "not built"; fi
}
gpu_step() {  # gpu_step <name> <timeout> <exe> <args...>
  local name=$1 limit=$2 bin=$3
  shift 3
  if [ $gpu_ok -eq 1 ] && [ $nvcc_ok -eq 1 ] && exe "$bin"; then
    FAIL_IF_LOG_HAS="no CUDA device: skipped" step "$name" "$limit" "$BUILD_DIR/$bin" "$@"
  else
    skip "$name" "$(why_not_gpu)"
  fi
}

# ---- CUDA tests ------------------------------------------------------------------------------------
gpu_step "CUDA ops vs CPU --quick" 90 ovis_cuda_tests --quick cuda_ops
gpu_step "CUDA golden parity fp32" 90 ovis_cuda_tests cuda_golden_fp32
gpu_step "CUDA golden parity bf16" 90 ovis_cuda_tests cuda_golden_bf16
gpu_step "CUDA ops + blocks, full size" 150 ovis_cuda_tests cuda_ops cuda_blocks

# ---- benchmark -------------------------------------------------------------------------------------
gpu_step "GPU bench 1024^2, $BENCH_STEPS steps" 150 ovis_bench_gpu --size 1024 --iters 2 --steps "$BENCH_STEPS"
bench_log=$(ls "$LOG_DIR"/*GPU_bench*.log 2>/dev/null | tail -1)
if [ -n "$bench_log" ]; then
  # bench rows: "| generate, N steps CFG: text ... | 123.4 ms |"; estimate = text + 50 x per step + decode.
  est=$(awk -F'|' '
    function ms(v) { split(v, a, " "); return a[2] == "s" ? a[1] * 1000 : a[1] + 0 }
    /generate, .*: text/ { t = ms($3) } /per step \(MMDiT/ { p = ms($3) } /generate, .*: VAE decode/ { d = ms($3) }
    END { if (p > 0) printf "%.1f s at 50 steps (%.1f ms/step)", (t + 50 * p + d) / 1000, p }' "$bench_log")
  [ -n "$est" ] && record "  bench: 50-step estimate" "$est" 0
fi

# ---- the CUDA addon and vitest on CUDA ---------------------------------------------------------------
addon=""
if [ $node_ok -eq 0 ]; then
  skip "CUDA addon + vitest" "no node or node_modules"
elif [ $nvcc_ok -eq 0 ] || [ $gpu_ok -eq 0 ]; then
  skip "CUDA addon + vitest" "$(why_not_gpu)"
elif [ -n "$node_inc" ] && [ $built -eq 1 ]; then
  step "CUDA addon (cmake target ovis_image)" 120 cmake --build "$BUILD_DIR" -j "$JOBS" --target ovis_image &&
    addon="$(cd "$BUILD_DIR" && pwd)/ovis_image.node"
else
  # No node headers on disk: the packaging route (cmake-js; may need the network for the headers).
  step "CUDA addon (npm run prebuilds:cuda)" 240 env OVIS_CUDA_ARCHS="$archs" JOBS="$JOBS" npm run prebuilds:cuda &&
    addon="$ROOT/prebuilds-cuda/$(node -p 'process.platform + "-" + process.arch')/ovis_image.node"
fi
if [ -n "$addon" ]; then
  for precision in fp32 bf16; do
    step "vitest golden, cuda $precision" 120 env NO_COLOR=1 OVIS_TEST_DEVICE=cuda OVIS_TEST_PRECISION=$precision \
      OVIS_IMAGE_CUDA_ADDON="$addon" node_modules/.bin/vitest run test/pipeline-golden.test.ts test/native-engine.test.ts
  done
elif [ $node_ok -eq 1 ] && [ $gpu_ok -eq 1 ] && [ $nvcc_ok -eq 1 ]; then
  skip "vitest golden, cuda" "no CUDA addon"
fi

# ---- PyTorch on the same card, same shapes (issue: side-by-side ratio) -------------------------------------
if [ $gpu_ok -eq 1 ] && python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  step "PyTorch bf16 peer (MMDiT b2 + VAE)" 150 python3 bench/torch_reference.py --device cuda --dtype bf16 --full --runs 3
else
  skip "PyTorch bf16 peer" "no torch with CUDA"
fi

# ---- the CPU C++ tests (last: no GPU needed) ---------------------------------------------------------
if exe ovis_tests; then
  step "C++ tests (CPU)" 150 "$BUILD_DIR/ovis_tests"
else
  skip "C++ tests (CPU)" "not built"
fi

[ $failures -eq 0 ]
