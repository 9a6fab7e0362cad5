#!/usr/bin/env bash
# run.sh of the prebuilt GPU bundle (made by `npm run gpu:bundle`, scripts/gpu-bundle.sh): checks a GPU
# machine in one call of at most ~300 s, with nothing to build there.
#
#   bash run.sh [LOG_FOLDER]      logs go to LOG_FOLDER, else $OUT, else ./gpu-run; one tarball of them
#                                 (gpu-run-logs.tar.gz) is written there, and the summary table prints last.
# Steps (each with its own timeout, clipped to the budget):
#   (a) pre-flight, < 10 s: driver, GPU name and arch, the libcublasLt.so.13 that will be loaded; stops
#       with a clear message when there is no GPU, no cuBLASLt, or only CUDA 12's.
#   (b) op table, test mode, bf16 and fp32, every case (full sizes included) against the CPU backend
#   (c) golden parity (tiny models, whole pipelines) on CUDA
#   (d) compute-sanitizer memcheck on the small op cases, when compute-sanitizer is present
#   (e) benchmark: 1024x1024, a few steps, extrapolated to 50 steps (labelled so by the bench)
#   (f) op table, perf mode (time per op vs its floor)
# Env: GPU_RUN_BUDGET_S (default 290), BENCH_STEPS (default 3), OVIS_CUBLASLT_PATH (a file or folder).
# Exit status: 3 no GPU / no usable cuBLASLt; 1 when a step failed or timed out; 0 otherwise.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$HERE/bin
BUDGET=${GPU_RUN_BUDGET_S:-290}
BENCH_STEPS=${BENCH_STEPS:-3}
DEST=${1:-${OUT:-$PWD/gpu-run}}
LOGS=$DEST/gpu-run-logs
mkdir -p "$LOGS"
export OVIS_GOLDEN_DIR=$HERE/fixtures/golden

names=() results=() times=()
failures=0

summary() {
  {
    echo
    echo "## GPU bundle run ($(date -u +%Y-%m-%dT%H:%M:%SZ), ${SECONDS}s of ${BUDGET}s)"
    head -1 "$HERE/BUILD-INFO" 2>/dev/null
    printf '| %-28s | %-60s | %6s |\n' step result "time s"
    printf '| %-28s | %-60s | %6s |\n' "----" "------" "------"
    for i in "${!names[@]}"; do printf '| %-28s | %-60s | %6s |\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"; done
  } > "$LOGS/summary.md"
  tar -C "$DEST" -czf "$DEST/gpu-run-logs.tar.gz" gpu-run-logs 2>/dev/null
  cat "$LOGS/summary.md"
  echo "logs: $DEST/gpu-run-logs.tar.gz"
}
trap summary EXIT

record() { names+=("$1") results+=("$2") times+=("$3"); }

# step <name> <timeout s> <command...>: output into <name>.log (its tail on stdout), timeout clipped
# to the budget left; a failure or timeout is counted.
step() {
  local name=$1 limit=$2 left rc t0
  shift 2
  left=$((BUDGET - SECONDS))
  if [ "$left" -lt 5 ]; then record "$name" "SKIP: budget spent" 0; return 0; fi
  [ "$limit" -gt "$left" ] && limit=$left
  t0=$SECONDS
  echo "== $name (timeout ${limit}s)"
  timeout -k 5 "$limit" "$@" > "$LOGS/$name.log" 2>&1
  rc=$?
  tail -n 15 "$LOGS/$name.log"
  if [ $rc -eq 0 ]; then record "$name" "ok: $(grep -E 'passed|cases|estimate' "$LOGS/$name.log" | tail -1 | cut -c1-52)" $((SECONDS - t0))
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then record "$name" "TIMEOUT after ${limit}s" $((SECONDS - t0)); failures=$((failures + 1))
  else record "$name" "FAIL (exit $rc): $(grep -E 'FAIL|Error|error' "$LOGS/$name.log" | head -1 | cut -c1-44)" $((SECONDS - t0)); failures=$((failures + 1))
  fi
  return $rc
}

# ---- (a) pre-flight ----
stop() { record preflight "STOP: $1" "$SECONDS"; echo "run.sh: $1" >&2; exit 3; }

gpu_info() {
  if command -v nvidia-smi > /dev/null 2>&1; then
    timeout 5 nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>&1 && return 0
  fi
  timeout 5 "$BIN/ovis_cuda_tests" --probe 2>&1
}

# Prints the libcublasLt.so.13 the engine will load, searched in the engine's order (cuda/cublaslt_loader.cpp).
find_cublaslt() {
  local dirs=() d f site
  if [ -n "${OVIS_CUBLASLT_PATH:-}" ]; then
    [ -f "$OVIS_CUBLASLT_PATH" ] && { echo "$OVIS_CUBLASLT_PATH"; return 0; }
    dirs+=("$OVIS_CUBLASLT_PATH")
  fi
  IFS=: read -ra ld <<< "${LD_LIBRARY_PATH:-}"
  dirs+=("${ld[@]}")
  f=$(ldconfig -p 2>/dev/null | awk '/libcublasLt\.so\.13 /{print $NF; exit}')
  [ -n "$f" ] && dirs+=("$(dirname "$f")")
  for site in $(python3 -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    dirs+=("$site/nvidia/cu13/lib" "$site/nvidia/cublas/lib" "$site/torch/lib")
  done
  dirs+=(${CUDA_HOME:+"$CUDA_HOME/lib64"} /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu)
  for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ -e "$d/libcublasLt.so.13" ] && { echo "$d/libcublasLt.so.13"; return 0; }
  done
  # Only CUDA 12's? Say so.
  for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ -e "$d/libcublasLt.so.12" ] && { echo "CUDA12:$d/libcublasLt.so.12"; return 1; }
  done
  return 1
}

preflight() {
  local t0=$SECONDS info lt real
  local ok=1
  info=$(gpu_info) || ok=0
  [ -n "$info" ] || info="nvidia-smi and the CUDA runtime found no device"
  if [ $ok -eq 0 ] || echo "$info" | grep -qiE 'no GPU|failed|error|not found'; then
    echo "$info" | grep -qi 'no GPU' || info="no GPU: $info"
    stop "$(echo "$info" | tr '\n' ' ')"
  fi
  echo "gpu: $info"
  lt=$(find_cublaslt)
  case "$lt" in
    CUDA12:*) stop "only CUDA 12's cuBLASLt found (${lt#CUDA12:}); this build needs libcublasLt.so.13: pip install nvidia-cublas (CUDA 13) or set OVIS_CUBLASLT_PATH" ;;
    "") stop "libcublasLt.so.13 not found (OVIS_CUBLASLT_PATH, LD_LIBRARY_PATH, ldconfig, Python nvidia/torch wheels, /usr/local/cuda); pip install nvidia-cublas or set OVIS_CUBLASLT_PATH" ;;
  esac
  real=$(readlink -f "$lt")
  echo "cublasLt: $lt -> $real (version ${real##*.so.})"
  export OVIS_CUBLASLT_PATH=$lt  # the engine loads exactly this file
  { echo "$info"; echo "cublasLt: $real"; cat "$HERE/BUILD-INFO" 2>/dev/null; } > "$LOGS/preflight.log"
  record preflight "ok: $(echo "$info" | head -1 | cut -c1-40); cublasLt ${real##*.so.}" $((SECONDS - t0))
}

preflight
step op-table-test 110 "$BIN/ovis_op_table" test --backend cuda --precision both
step golden-parity 60 "$BIN/ovis_cuda_tests" cuda_golden cuda_out_of_memory cuda_weights cuda_fast_paths
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$sanitizer" ]; then
  step memcheck 45 "$sanitizer" --tool memcheck --error-exitcode 9 "$BIN/ovis_op_table" test --backend cuda --precision bf16 --sizes small
else
  record memcheck "SKIP: compute-sanitizer not found" 0
fi
step bench-1024 60 "$BIN/ovis_bench_gpu" --size 1024x1024 --steps "$BENCH_STEPS" --iters 1
step op-table-perf 40 "$BIN/ovis_op_table" perf --backend cuda --precision bf16 --reps 3
[ "$failures" -eq 0 ]
