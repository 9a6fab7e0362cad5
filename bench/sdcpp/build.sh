#!/usr/bin/env bash
# Builds stable-diffusion.cpp's CPU backend (sd-cli) for bench/sdcpp/run.sh, into bench/sdcpp/build/ (gitignored).
# The source comes from local bare mirrors of the two repositories (the project's `fetch` tool puts them under
# /work/.mirror); their paths can be overridden with SDCPP_GIT and GGML_GIT. Pinned commits:
#   stable-diffusion.cpp 97d2990807fe6d558e395f8764198d7c7e7b411c (2026-08-19, "chore: format code")
#   ggml                 8e800cef2948046cc47f9db6090491c6128ca42c (the submodule commit pinned by that sd.cpp commit)
# The mirrors hold no large generated tokenizer headers (src/tokenizers/vocab/*.hpp): the Qwen2 BPE merges (the
# only vocabulary the Ovis-Image pipeline uses) are regenerated from the Qwen tokenizer.json in our test fixtures
# (the same 151387 merges); the other vocabularies become empty stubs (models we don't run).
# Usage: bash bench/sdcpp/build.sh [jobs]   (prints the path of sd-cli)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${1:-2}
SDCPP_GIT=${SDCPP_GIT:-/work/.mirror/leejet+stable-diffusion.cpp/repo}
GGML_GIT=${GGML_GIT:-/work/.mirror/ggml-org+ggml/repo}
SDCPP_COMMIT=97d2990807fe6d558e395f8764198d7c7e7b411c
GGML_COMMIT=8e800cef2948046cc47f9db6090491c6128ca42c
TOKENIZER=${TOKENIZER:-$root/test/fixtures/golden/tiny-diffusers/tokenizer/tokenizer.json}
src=$here/build/src
bin=$here/build/bin/sd-cli

if [ -x "$bin" ] && [ "$(cat "$here/build/COMMITS" 2>/dev/null)" = "$SDCPP_COMMIT $GGML_COMMIT" ]; then
  echo "$bin"
  exit 0
fi
rm -rf "$src"
mkdir -p "$src/ggml"
# Everything but the blobs the mirror lacks (submodules, media, the big vocab headers).
git --git-dir="$SDCPP_GIT" archive "$SDCPP_COMMIT" -- . ':!assets' ':!src/tokenizers/vocab/*.hpp' \
  ':!ggml' ':!thirdparty/libwebp' ':!thirdparty/libwebm' ':!examples/server/frontend' | tar -x -C "$src"
git --git-dir="$SDCPP_GIT" archive "$SDCPP_COMMIT" -- src/tokenizers/vocab/clip_merges.hpp | tar -x -C "$src"
git --git-dir="$GGML_GIT" archive "$GGML_COMMIT" | tar -x -C "$src/ggml"
python3 "$here/vocab_headers.py" "$TOKENIZER" "$src/src/tokenizers/vocab"

cmake -S "$src" -B "$here/build/cmake" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DSD_WEBP=OFF -DSD_WEBM=OFF \
  -DSD_SERVER_BUILD_FRONTEND=OFF >"$here/build/cmake.log"
cmake --build "$here/build/cmake" -j"$jobs" --target sd-cli >>"$here/build/cmake.log"
mkdir -p "$here/build/bin"
cp "$(find "$here/build/cmake" -name sd-cli -type f -perm -u+x | head -1)" "$bin"
echo "$SDCPP_COMMIT $GGML_COMMIT" >"$here/build/COMMITS"
echo "$bin"
