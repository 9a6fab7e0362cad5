#!/usr/bin/env bash
# gpu-bundle.sh (npm run gpu:bundle): builds HERE, without a GPU, everything a GPU machine needs to check
# this engine in one short call: the CUDA test and bench executables, the golden fixtures they read and
# one runner (run.sh, from scripts/gpu-bundle-run.sh) at the bundle's top, as ONE tarball of at most
# 60 MiB. The tarball's path is printed as the last line.
#
# On the GPU machine:  tar xzf ovis-gpu-bundle-*.tar.gz && bash ovis-gpu-bundle/run.sh [LOG_FOLDER]
#
# Reuses the CUDA build folder (BUILD_DIR, default build-cuda: the one `npm run build:cuda` made, so CI
# compiles CUDA once). Without one it configures it for OVIS_CUDA_ARCHS (default 90a: H100/H200).
# Setting OVIS_CUDA_ARCHS on an existing build folder reconfigures it (and recompiles).
# Env: BUILD_DIR, OVIS_CUDA_ARCHS, JOBS (default 2), GPU_BUNDLE_DIR (where the tarball goes, default dist-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cuda}
JOBS=${JOBS:-2}
DEST=${GPU_BUNDLE_DIR:-dist-gpu}
MAX_BYTES=$((60 * 1024 * 1024))
TARGETS=(ovis_cuda_tests ovis_op_table ovis_bench_gpu)
FIXTURES=(manifest.json tiny-original transformer vae text_encoder pipeline scheduler gguf)

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  bash scripts/ensure-cublas.sh
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DOVIS_CUDA=ON -DOVIS_CUDA_ARCHS="${OVIS_CUDA_ARCHS:-90a}"
elif [ -n "${OVIS_CUDA_ARCHS:-}" ]; then
  cmake -S . -B "$BUILD_DIR" -DOVIS_CUDA_ARCHS="$OVIS_CUDA_ARCHS"
fi
grep -q '^OVIS_CUDA:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" || { echo "gpu-bundle: $BUILD_DIR is not a CUDA build (OVIS_CUDA=OFF)" >&2; exit 1; }
archs=$(sed -n 's/^OVIS_CUDA_ARCHS:STRING=//p' "$BUILD_DIR/CMakeCache.txt")
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]}"

stage_root=$(mktemp -d)
trap 'rm -rf "$stage_root"' EXIT
stage=$stage_root/ovis-gpu-bundle
mkdir -p "$stage/bin" "$stage/fixtures/golden"
for t in "${TARGETS[@]}"; do
  cp "$BUILD_DIR/$t" "$stage/bin/"
  strip "$stage/bin/$t" 2>/dev/null || true
done
for f in "${FIXTURES[@]}"; do cp -r "test/fixtures/golden/$f" "$stage/fixtures/golden/"; done
cp -r test/fixtures/plans "$stage/fixtures/"  # the TS-written plan the C++ golden tests load
cp scripts/gpu-bundle-run.sh "$stage/run.sh"
chmod +x "$stage/run.sh"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo "+changes" || true)
{
  echo "ovis-image GPU bundle: commit ${commit}${dirty}, CUDA archs ${archs}, built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  "$(grep -m1 '^CMAKE_CUDA_COMPILER:' "$BUILD_DIR/CMakeCache.txt" | cut -d= -f2)" --version 2>/dev/null | tail -1
} > "$stage/BUILD-INFO"

mkdir -p "$DEST"
tarball=$(cd "$DEST" && pwd)/ovis-gpu-bundle-${commit}.tar.gz
tar -C "$stage_root" -czf "$tarball" ovis-gpu-bundle
size=$(stat -c %s "$tarball")
if [ "$size" -gt "$MAX_BYTES" ]; then
  echo "gpu-bundle: $tarball is $((size / 1024 / 1024)) MiB, over the 60 MiB limit" >&2
  exit 1
fi
echo "gpu-bundle: $((size / 1024)) KiB, archs ${archs}; run it with: tar xzf $(basename "$tarball") && bash ovis-gpu-bundle/run.sh"
echo "$tarball"
