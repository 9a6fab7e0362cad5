#!/usr/bin/env bash
# Peak memory of one CPU generation through the CLI: the whole process's peak RSS (/usr/bin/time -v) and
# the largest anonymous and file-backed (mapped weights) parts seen (sampled from /proc/<pid>/status).
# Usage: bash bench/cpu-memory.sh <model-dir> [extra generate flags, e.g. --weights q4_0]
# A full-size model with random weights: node bench/random-checkpoint.mjs <dir> (about 18 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bash bench/cpu-memory.sh <model-dir> [generate flags...]}
shift
log=$(mktemp)
out=$(mktemp --suffix .png)
trap 'rm -f "$log" "$out"' EXIT
/usr/bin/time -v -o "$log" node bin/ovis-image.js generate -m "$model" -p "a red sign that says OPEN" \
  --width 256 --height 256 --steps 1 --seed 1 --device cpu -o "$out" "$@" >/dev/null &
wrapper=$!
anon=0 file=0 node_pid=""
while kill -0 "$wrapper" 2>/dev/null; do
  [ -n "$node_pid" ] || node_pid=$(pgrep -P "$wrapper" -x node || true)
  if [ -n "$node_pid" ] && [ -r "/proc/$node_pid/status" ]; then
    a=$(awk '/^RssAnon:/ {print $2}' "/proc/$node_pid/status" 2>/dev/null || echo 0)
    f=$(awk '/^RssFile:/ {print $2}' "/proc/$node_pid/status" 2>/dev/null || echo 0)
    [ "${a:-0}" -gt "$anon" ] && anon=$a
    [ "${f:-0}" -gt "$file" ] && file=$f
  fi
  sleep 0.1
done
wait "$wrapper"
peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
gb() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1048576 }'; }
echo "| flags | peak RSS (GB) | max RssAnon (GB) | max RssFile (GB) | wall |"
echo "|---|---|---|---|---|"
echo "| ${*:-(none)} | $(gb "$peak") | $(gb "$anon") | $(gb "$file") | $wall |"
