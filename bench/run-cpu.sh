#!/usr/bin/env bash
# Side-by-side CPU benchmark: ovis-image's engine beside the same computation in PyTorch (each side the best of 3
# separate processes, taken in turns), same threads, and with --sdcpp the whole pipeline beside
# stable-diffusion.cpp. See bench/run_cpu.py.
# Usage: bash bench/run-cpu.sh [threads] [runs] [--quick] [--workloads a,b,...] [--sdcpp] [--bf16] [--out FILE]
#   workloads: mmdit-1024 mmdit-3072 vae-quarter-512 vae-full-256 vae-full-512 text-2048 (default: all; --quick:
#   the smallest, 1 run, 1 process per side)
set -euo pipefail
cd "$(dirname "$0")/.."
pos=()
while [ $# -gt 0 ] && [[ "$1" != --* ]]; do pos+=("$1"); shift; done
threads=${pos[0]:-$(nproc)}
runs=${pos[1]:-3}
cmake -S . -B build-cpp -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-cpp -j2 --target bench_cpu_model >/dev/null
exec python3 bench/run_cpu.py --ours build-cpp/bench_cpu_model --threads "$threads" --runs "$runs" "$@"
