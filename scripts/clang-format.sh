#!/usr/bin/env bash
# C++/CUDA formatting with the clang-format of node_modules (one version for everyone):
#   bash scripts/clang-format.sh --check   exits 1 listing the files that differ from .clang-format
#   bash scripts/clang-format.sh           rewrites them in place
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin/clang-format
mapfile -t files < <(git ls-files 'cpp/*.cpp' 'cpp/*.h' 'cuda/*.cu' 'cuda/*.cuh' 'cuda/*.cpp' 'cuda/*.h' 'bench/*.cpp' 'bench/*.h')
if [ "${1:-}" != "--check" ]; then
  "$bin" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$bin" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted (run `npm run format`):\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "clang-format: ${#files[@]} files formatted"
