#!/usr/bin/env bash
# Fresh-install test: build the prebuilt CPU addon, pack the package, install the tarball into an empty
# project with install scripts disabled (so no compiler can be involved: the prebuilt binary must be
# what runs), then run the CLI from there on the tiny fixture model. Prints one PASS/FAIL line.
# Leaves nothing in the repo except the gitignored build outputs prebuilds/, build/ and dist/.
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
    echo "fresh-install-test: PASS (prebuilt addon, npm install --ignore-scripts, info + 32x32 generate from the installed package)"
  else
    echo "fresh-install-test: FAIL at step: $step (see the output above)" >&2
  fi
}
trap finish EXIT

export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export JOBS="${JOBS:-2}"

step="npm run prebuilds (prebuildify: N-API CPU addon into prebuilds/)"
echo "== $step"
(cd "$repo" && npm run prebuilds)
shopt -s nullglob
prebuilt=("$repo"/prebuilds/linux-x64/*.node)
[ "${#prebuilt[@]}" -eq 1 ] || { echo "expected one prebuilt binary in prebuilds/linux-x64, found ${#prebuilt[@]}" >&2; exit 1; }
echo "prebuilt: ${prebuilt[0]} needs $(objdump -T "${prebuilt[0]}" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)"

step="npm pack"
echo "== $step"
tarball="$(cd "$repo" && npm pack --silent --pack-destination "$work" | tail -1)"
tarball="$work/$tarball"
[ -f "$tarball" ] || { echo "npm pack did not write $tarball" >&2; exit 1; }
# (listed into a variable: `tar | grep -q` fails under pipefail when grep stops reading early)
listing="$(tar -tzf "$tarball")"
echo "$(echo "$listing" | wc -l) files in $(basename "$tarball")"
unwanted="$(echo "$listing" | grep -E '^package/(test|bench|build|build-[^/]*|cpp/tests)/|\.map$' || true)"
[ -z "$unwanted" ] || { echo "the tarball holds files it must not ship:" >&2; echo "$unwanted" | head >&2; exit 1; }
echo "$listing" | grep -E '^package/prebuilds/linux-x64/[^/]+\.node$' >/dev/null || { echo "the tarball has no prebuilt binary" >&2; exit 1; }

step="npm install --ignore-scripts <tarball> into an empty project"
echo "== $step"
app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm install --ignore-scripts --no-package-lock "$tarball"
[ ! -e node_modules/ovis-image/build ] || { echo "node_modules/ovis-image/build exists: something was compiled" >&2; exit 1; }

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
