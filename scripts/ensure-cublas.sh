#!/usr/bin/env bash
# Makes sure cublasLt.h is available for the CUDA build (the library itself is loaded at run time).
# Prints the folder holding cublasLt.h on stdout; installs the nvidia-cublas wheel with pip (local index
# first when present) if no copy is found. Exit 1 with a message when it cannot.
set -euo pipefail

find_header() {
  for d in "${OVIS_CUBLAS_INCLUDE:-}" "${CUDA_HOME:-/nonexistent}/include" /usr/local/cuda/include; do
    if [ -n "$d" ] && [ -f "$d/cublasLt.h" ]; then echo "$d"; return 0; fi
  done
  python3 - <<'PY' 2>/dev/null
import os
import nvidia
for p in nvidia.__path__:
    for d in ("cu13", "cublas"):
        inc = os.path.join(p, d, "include")
        if os.path.exists(os.path.join(inc, "cublasLt.h")):
            print(inc)
            raise SystemExit(0)
raise SystemExit(1)
PY
}

if dir=$(find_header); then
  echo "$dir"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || { echo "ensure-cublas: python3 is needed to install nvidia-cublas" >&2; exit 1; }
args=()
[ -d /opt/pypi/simple ] && args+=(--index-url file:///opt/pypi/simple)
[ -d /opt/pypi-more/simple ] && args+=(--extra-index-url file:///opt/pypi-more/simple)
echo "ensure-cublas: installing nvidia-cublas with pip ${args[*]:-}" >&2
python3 -m pip install --quiet "${args[@]}" nvidia-cublas >&2

if dir=$(find_header); then
  echo "$dir"
  exit 0
fi
echo "ensure-cublas: nvidia-cublas installed but cublasLt.h was not found; pass -DOVIS_CUBLAS_INCLUDE=<dir>" >&2
exit 1
