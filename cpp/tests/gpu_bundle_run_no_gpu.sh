#!/usr/bin/env bash
# The GPU bundle's runner on a machine without a GPU: it must stop within 10 s, exit non-zero, say
# there is no GPU, and still leave its log tarball. (ctest: gpu_bundle_run_no_gpu)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/bin"
cp "$root/scripts/gpu-bundle-run.sh" "$work/bundle/run.sh"
# The probe the runner uses without nvidia-smi: a build's ovis_cuda_tests when given, else a stand-in
# that reports no device the way the real one does.
if [ -n "${1:-}" ] && [ -x "$1" ]; then
  cp "$1" "$work/bundle/bin/ovis_cuda_tests"
else
  printf '#!/bin/sh\necho "no GPU: no CUDA driver or no device"\nexit 3\n' > "$work/bundle/bin/ovis_cuda_tests"
  chmod +x "$work/bundle/bin/ovis_cuda_tests"
fi
if command -v nvidia-smi > /dev/null 2>&1 && timeout 5 nvidia-smi -L > /dev/null 2>&1; then
  echo "skipped: this machine has a GPU"
  exit 0
fi
start=$(date +%s)
out=$(OUT= timeout 20 bash "$work/bundle/run.sh" "$work/logs" 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out"
fail() { echo "FAIL: $1 (exit $rc, ${elapsed}s)"; exit 1; }
[ "$rc" -ne 0 ] || fail "run.sh exited 0 without a GPU"
[ "$rc" -ne 124 ] || fail "run.sh did not stop within 20 s"
[ "$elapsed" -lt 10 ] || fail "run.sh took ${elapsed}s (limit 10 s)"
echo "$out" | grep -q "no GPU" || fail "run.sh did not say there is no GPU"
[ -s "$work/logs/gpu-run-logs.tar.gz" ] || fail "no log tarball"
echo "ok: exit $rc in ${elapsed}s"
