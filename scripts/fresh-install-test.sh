#!/usr/bin/env bash
# Fresh-install test: pack the package (`npm pack` alone: its prepack step builds the CPU prebuilt and
# copies the CUDA addon of build-cuda/), check the tarball's contents and size, install it into an empty
# project with install scripts disabled (so no compiler can be involved: the prebuilt binaries must be
# what runs), then run the CLI from there: doctor (both addons; why CUDA cannot run without a GPU),
# setup cuda from a local wheel, info and a generate on the tiny fixture model. Prints one PASS/FAIL line.
# Without nvcc it packs the CPU addon alone (OVIS_PACK_CPU_ONLY=1) and skips the CUDA checks.
# Leaves nothing in the repo except gitignored build outputs (prebuilds*/, build*/, dist/).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
model="$repo/test/fixtures/golden/tiny-diffusers"
work="$(mktemp -d "${TMPDIR:-/tmp}/ovis-fresh-install-XXXXXX")"
status_before="$(git -C "$repo" status --porcelain 2>/dev/null || true)"  # compared at the end
result=FAIL
step=start

finish() {
  rm -rf "$work"
  if [ "$result" = PASS ]; then
    echo "fresh-install-test: PASS (npm pack, tarball contents, npm install --ignore-scripts, doctor, setup cuda --wheel, info + 32x32 generate from the installed package)"
  else
    echo "fresh-install-test: FAIL at step: $step (see the output above)" >&2
  fi
}
trap finish EXIT

export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export JOBS="${JOBS:-2}"

cuda=1
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  cuda=0
  export OVIS_PACK_CPU_ONLY=1
  echo "fresh-install-test: no nvcc here: packing the CPU addon alone, CUDA checks skipped"
fi
max_mb=60

step="npm pack (prepack builds the binaries)"
echo "== $step"
started=$SECONDS
tarball="$(cd "$repo" && npm pack --pack-destination "$work" | tail -1)"
tarball="$work/$tarball"
[ -f "$tarball" ] || { echo "npm pack did not write $tarball" >&2; exit 1; }
echo "npm pack took $((SECONDS - started)) s"

step="the tarball's contents"
echo "== $step"
# (listed into a variable: `tar | grep -q` fails under pipefail when grep stops reading early)
listing="$(tar -tzf "$tarball")"
size_mb=$(( ($(stat -c %s "$tarball") + 1048575) / 1048576 ))
echo "$(echo "$listing" | wc -l) files in $(basename "$tarball"), $(du -h "$tarball" | cut -f1)"
[ "$size_mb" -lt "$max_mb" ] || { echo "the tarball is ${size_mb} MB: over the ${max_mb} MB budget" >&2; exit 1; }
unwanted="$(echo "$listing" | grep -E '^package/(test|bench|build|build-[^/]*|cpp/tests|cuda)/|\.map$|\.tgz$' || true)"
[ -z "$unwanted" ] || { echo "the tarball holds files it must not ship:" >&2; echo "$unwanted" | head >&2; exit 1; }
for f in package/dist/index.js package/bin/ovis-image.js package/binding.gyp; do
  echo "$listing" | grep -qxF "$f" || { echo "the tarball lacks $f" >&2; exit 1; }
done
echo "$listing" | grep -E '^package/prebuilds/linux-x64/[^/]+\.node$' >/dev/null || { echo "the tarball has no prebuilt CPU binary" >&2; exit 1; }
if [ $cuda -eq 1 ]; then
  echo "$listing" | grep -qxF 'package/prebuilds-cuda/linux-x64/ovis_image.node' || { echo "the tarball has no CUDA binary" >&2; exit 1; }
  if command -v cuobjdump >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/cuobjdump ]; then
    objdump_bin="$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)"
    tar -xzf "$tarball" -C "$work" package/prebuilds-cuda/linux-x64/ovis_image.node
    sass="$("$objdump_bin" --list-elf "$work/package/prebuilds-cuda/linux-x64/ovis_image.node" | grep -o 'sm_[0-9]*a\?' | sort -u | tr '\n' ' ')"
    ptx="$("$objdump_bin" --list-ptx "$work/package/prebuilds-cuda/linux-x64/ovis_image.node" | grep -o 'sm_[0-9]*a\?' | sort -u | tr '\n' ' ')"
    echo "CUDA binary: SASS $sass; PTX $ptx"
    for a in sm_80 sm_86 sm_89 sm_90a sm_100 sm_120; do
      grep -qw "$a" <<<"$sass" || { echo "the CUDA binary has no $a code" >&2; exit 1; }
    done
    grep -qw sm_120 <<<"$ptx" || { echo "the CUDA binary has no PTX for newer GPUs" >&2; exit 1; }
    rm -rf "$work/package"
  fi
else
  ! echo "$listing" | grep -q '^package/prebuilds-cuda/' || { echo "OVIS_PACK_CPU_ONLY=1 but the tarball has a CUDA binary" >&2; exit 1; }
fi

step="npm install --ignore-scripts <tarball> into an empty project"
echo "== $step"
app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm install --ignore-scripts --no-package-lock "$tarball"
[ ! -e node_modules/ovis-image/build ] || { echo "node_modules/ovis-image/build exists: something was compiled" >&2; exit 1; }
if [ $cuda -eq 1 ]; then
  [ -f node_modules/ovis-image/prebuilds-cuda/linux-x64/ovis_image.node ] || { echo "the installed package has no CUDA binary" >&2; exit 1; }
fi

# A home of its own: no cuBLAS of this machine's user, an empty ovis-image cache.
export HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache"
mkdir -p "$HOME"

step="npx ovis-image doctor"
echo "== $step"
doctor="$(npx --no ovis-image doctor)"
echo "$doctor"
grep -q "^cpu addon .*$app/node_modules/ovis-image/prebuilds/linux-x64/.*(prebuilt): loads" <<<"$doctor" || { echo "doctor does not show the prebuilt CPU addon loading" >&2; exit 1; }
if [ $cuda -eq 1 ]; then
  grep -q "^cuda addon .*$app/node_modules/ovis-image/prebuilds-cuda/linux-x64/ovis_image.node (CUDA runtime 13" <<<"$doctor" || { echo "doctor does not show the shipped CUDA addon" >&2; exit 1; }
  # The arch list the addon was compiled with (what cudaInfo() reports; cuobjdump above checks the code itself when present).
  grep -q "code for 80-real,86-real,89-real,90a-real,100-real,120)" <<<"$doctor" || { echo "the shipped CUDA addon was not built for the release archs" >&2; exit 1; }
  if [ -e /dev/nvidiactl ]; then
    echo "(this machine has an NVIDIA driver: the CUDA verdict is not checked here)"
  else
    grep -q "^  - CUDA cannot run here: " <<<"$doctor" || { echo "doctor does not say why CUDA cannot run here" >&2; exit 1; }
  fi
fi
npx --no ovis-image doctor --json | node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!j.cpuAddon.loads) process.exit(1);' \
  || { echo "doctor --json is not JSON, or the CPU addon does not load" >&2; exit 1; }

step="npx ovis-image setup cuda --wheel <a small fake nvidia-cublas wheel> (no network)"
echo "== $step"
wheel="$work/nvidia_cublas-13.0.0.1-py3-none-manylinux_2_27_x86_64.whl"
NODE_PATH="$repo/node_modules" node -e '
  const yazl = require("yazl"); const fs = require("fs"); const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from("lt"), "nvidia/cu13/lib/libcublasLt.so.13"); z.addBuffer(Buffer.from("blas"), "nvidia/cu13/lib/libcublas.so.13");
  z.outputStream.pipe(fs.createWriteStream(process.argv[1])); z.end();' "$wheel"
npx --no ovis-image setup cuda --wheel "$wheel" --no-progress
[ "$(cat "$XDG_CACHE_HOME/ovis-image/cublas13/libcublasLt.so.13")" = lt ] || { echo "setup cuda did not extract libcublasLt.so.13" >&2; exit 1; }
npx --no ovis-image doctor | grep -q "^cublasLt .*/ovis-image/cublas13/libcublasLt.so.13 (version 13.0.0.1, from ovis-image cache)" \
  || { echo "doctor does not find the cuBLASLt that setup cuda put in the cache" >&2; exit 1; }

step="npx ovis-image info"
echo "== $step"
info="$(npx --no ovis-image info -m "$model")"
echo "$info" | tail -3
grep -q '^layout: diffusers' <<<"$info" || { echo "info did not describe the model" >&2; exit 1; }
grep -q "prebuilt CPU addon $app/node_modules/ovis-image/prebuilds/" <<<"$info" || { echo "info does not show the prebuilt addon in use" >&2; exit 1; }

step="npx ovis-image generate (32x32, 2 steps, CPU)"
echo "== $step"
npx --no ovis-image generate -m "$model" -p hi --width 32 --height 32 --steps 2 --seed 1 --device cpu -o out.png --verbose
[ -s out.png ] || { echo "out.png was not written" >&2; exit 1; }
[ "$(head -c 8 out.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "out.png is not a PNG" >&2; exit 1; }

step="nothing left in the repo"
status_after="$(git -C "$repo" status --porcelain 2>/dev/null || true)"
# Only new untracked entries at the top level count: the test writes nothing else in the repo, and
# other work in the same checkout (edits deeper in the tree) must not fail it.
new_entries="$(comm -13 <(echo "$status_before" | sort) <(echo "$status_after" | sort) | grep -E '^\?\? [^/]+/?$' || true)"
if [ -n "$new_entries" ]; then
  echo "new files in the repo after the test (gitignored build outputs excepted):" >&2
  echo "$new_entries" >&2
  exit 1
fi
result=PASS
