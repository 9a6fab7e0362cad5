#!/usr/bin/env bash
# The whole text-to-image pipeline on the full-size random-weight model (bench/random-checkpoint.mjs, official
# single-file layout), 256x256, 1 step, CFG 5, same prompt, seed and threads, on one side:
#   --side sdcpp: stable-diffusion.cpp's sd-cli (bench/sdcpp/build.sh), per-stage times from its log
#   --side ours:  `ovis-image generate --timings` (the npm CLI on the CPU backend)
# Prints one JSON line: {"impl", "load_ms", "text_ms", "step_ms", "vae_ms", "total_ms"}.
# Usage: bash bench/sdcpp/run.sh --side sdcpp|ours [--threads N] [--model DIR] [--type q8_0]
#   --model: the checkpoint folder (default /work/fullsize/original; written by
#            `node bench/random-checkpoint.mjs DIR --layout original` when missing)
#   --type:  weights quantized while loading, on both sides (sd.cpp --type, ours --weights/--text-encoder-weights)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
side="" threads=$(nproc) model=/work/fullsize/original type=""
while [ $# -gt 0 ]; do
  case "$1" in
    --side) side=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
prompt="a lovely cat sitting on a wooden table, studio light"
size=256 steps=1 cfg=5 seed=0
logs=$here/build/logs
mkdir -p "$logs"

if [ ! -f "$model/ovis_image.safetensors" ]; then
  (cd "$root" && node bench/random-checkpoint.mjs "$model" --layout original >&2)
fi

case "$side" in
  sdcpp)
    bin=$(bash "$here/build.sh")
    # sd.cpp reads other key names than the official files' (text encoder: Hugging Face Qwen3 names instead of
    # llm.model.*; MMDiT: ComfyUI's txt_in / txt_norm.scale instead of semantic_txt_*): renamed copies.
    te="$model/sdcpp/ovis_2.5.safetensors" dit="$model/sdcpp/ovis_image.safetensors"
    mkdir -p "$model/sdcpp"
    [ -f "$te" ] || python3 "$here/rename_keys.py" te "$model/Ovis2.5-2B/model.safetensors" "$te" >&2
    [ -f "$dit" ] || python3 "$here/rename_keys.py" dit "$model/ovis_image.safetensors" "$dit" >&2
    extra=()
    [ -n "$type" ] && extra+=(--type "$type")
    log=$logs/sdcpp-$threads.log
    "$bin" --diffusion-model "$dit" --vae "$model/ae.safetensors" --llm "$te" \
      -p "$prompt" -W $size -H $size --steps $steps --cfg-scale $cfg --seed $seed -t "$threads" \
      --eager-load --mmap --diffusion-fa -v "${extra[@]}" -o "$logs/sdcpp.png" >"$log" 2>&1 ||
      { tail -30 "$log" >&2; exit 1; }
    python3 "$here/parse_log.py" "$log" "$(cat "$here/build/COMMITS")"
    ;;
  ours)
    extra=()
    [ -n "$type" ] && extra+=(--weights "$type" --text-encoder-weights "$type")
    log=$logs/ours-$threads.log
    node "$root/bin/ovis-image.js" generate -m "$model" -p "$prompt" --width $size --height $size --steps $steps \
      --guidance $cfg --seed $seed --device cpu --threads "$threads" --timings -q "${extra[@]}" \
      -o "$logs/ours.png" >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    python3 - "$log" <<'PY'
import json, sys
t = json.loads([l for l in open(sys.argv[1]) if l.startswith("timings ")][-1][len("timings "):])
print(json.dumps({"impl": "ovis-image cpu", "load_ms": t["loadMs"], "text_ms": t["textMs"], "step_ms": t["stepMs"],
                  "vae_ms": t["decodeMs"], "total_ms": t["totalMs"]}))
PY
    ;;
  *) echo "usage: run.sh --side sdcpp|ours [--threads N] [--model DIR] [--type q8_0]" >&2; exit 2 ;;
esac
