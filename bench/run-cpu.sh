#!/usr/bin/env bash
# Side-by-side CPU benchmark: ovis-image's engine and the same computation in PyTorch, same threads.
# Usage: bash bench/run-cpu.sh [threads] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
runs=${2:-3}
cmake -S . -B build-cpp -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-cpp -j2 --target bench_cpu_model >/dev/null
ours=$(./build-cpp/bench_cpu_model --threads "$threads" --runs "$runs" --json)
theirs=$(python3 bench/torch_reference.py --threads "$threads" --runs "$runs")
python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"| stage | ovis-image (ms) | {theirs['impl']} (ms) | ratio ours/torch |")
print("|---|---|---|---|")
for key, name in (("mmdit_ms", "MMDiT forward, D=1024, 2+4 blocks, 1024+256 tokens"), ("vae_ms", "VAE decode 512x512, channels 32,64,128,128")):
    print(f"| {name} | {ours[key]:.0f} | {theirs[key]:.0f} | {ours[key] / theirs[key]:.2f} |")
print(f"\nthreads: {ours['threads']}; MMDiT GFLOP/s (ours): {ours['mmdit_gflops']:.1f}")
PY
