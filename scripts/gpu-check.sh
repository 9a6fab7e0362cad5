#!/usr/bin/env bash
# One command for a GPU machine: nvidia-smi, CUDA build (reuses build-cuda), C++ CPU tests, CUDA-vs-CPU
# tests, the GPU benchmark at 1024^2 and, when node exists, the vitest suite on CUDA.
# Prints a summary table (check, result, seconds) last. Budget: under 8 minutes on one H100.
# Env: BUILD_DIR (default build-cuda), OVIS_CUDA_ARCHS (default: this GPU's arch, else the CMake default).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cuda}
names=() results=() times=()

step() {  # step <name> <timeout seconds> <command...>
  local name=$1 limit=$2
  shift 2
  echo "=== $name"
  local t0=$SECONDS rc=0
  timeout --signal=TERM --kill-after=10 "$limit" "$@" || rc=$?
  local res=PASS
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then res="TIMEOUT (${limit}s)"; elif [ $rc -ne 0 ]; then res="FAIL (rc $rc)"; fi
  names+=("$name") results+=("$res") times+=($((SECONDS - t0)))
  return $rc
}

skip() { names+=("$1") results+=("SKIP: $2") times+=(0); }

summary() {
  echo
  printf '| %-28s | %-28s | %6s |\n' check result "time s"
  printf '| %-28s | %-28s | %6s |\n' "$(printf -- '-%.0s' {1..28})" "$(printf -- '-%.0s' {1..28})" "------"
  for i in "${!names[@]}"; do printf '| %-28s | %-28s | %6s |\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"; done
}
trap summary EXIT

gpu_ok=1
step "nvidia-smi" 30 nvidia-smi || gpu_ok=0

archs=${OVIS_CUDA_ARCHS:-}
if [ -z "$archs" ] && [ $gpu_ok -eq 1 ]; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  case "$cc" in 90) archs=90a ;; 80|86|89) archs=$cc ;; *) archs="" ;; esac
fi
cfg=(-S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DOVIS_CUDA=ON)
[ -n "$archs" ] && cfg+=("-DOVIS_CUDA_ARCHS=$archs")
inc=$(bash scripts/ensure-cublas.sh 2>/dev/null) && cfg+=("-DOVIS_CUBLAS_INCLUDE=$inc")
jobs=$(nproc 2>/dev/null || echo 4)

if ! step "configure" 120 cmake "${cfg[@]}"; then exit 1; fi
if ! step "build" 300 cmake --build "$BUILD_DIR" -j "$jobs"; then exit 1; fi
step "C++ tests (CPU)" 120 "$BUILD_DIR/ovis_tests" || true
if [ $gpu_ok -eq 1 ]; then
  step "CUDA vs CPU tests" 240 "$BUILD_DIR/ovis_cuda_tests" || true
  step "GPU bench 1024^2" 180 "$BUILD_DIR/ovis_bench_gpu" --size 1024 --iters 2 || true
else
  skip "CUDA vs CPU tests" "no GPU"
  skip "GPU bench 1024^2" "no GPU"
fi
if command -v node >/dev/null 2>&1 && [ -d node_modules ]; then
  if [ $gpu_ok -eq 1 ]; then
    step "vitest (OVIS_TEST_DEVICE=cuda)" 240 env OVIS_TEST_DEVICE=cuda npx vitest run || true
  else
    skip "vitest (cuda)" "no GPU"
  fi
else
  skip "vitest (cuda)" "no node"
fi
