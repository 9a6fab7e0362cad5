#!/usr/bin/env python3
"""Per-stage times from an sd-cli -v log (stable-diffusion.cpp's own "... completed, taking N s" lines), as one
JSON line in the shape bench/sdcpp/run.sh prints for both sides.
Usage: python3 parse_log.py <log> [commits]
"""
import json
import re
import sys

# stage -> the log line that reports it (seconds)
PATTERNS = {
    "load_ms": r"loading tensors completed, taking ([\d.]+)\s*s",
    "text_ms": r"get_learned_condition completed, taking ([\d.]+)\s*s",
    "step_ms": r"sampling completed, taking ([\d.]+)\s*s",
    "vae_ms": r"decode_first_stage completed, taking ([\d.]+)\s*s",
    "total_ms": r"generate_image completed in ([\d.]+)\s*s",
}


def main():
    text = open(sys.argv[1], errors="replace").read()
    out = {"impl": "stable-diffusion.cpp " + (sys.argv[2][:12] if len(sys.argv) > 2 else "")}
    for key, pattern in PATTERNS.items():
        found = re.findall(pattern, text)
        # loading is reported once per model file group: their sum; the other stages: the last report
        value = sum(map(float, found)) if key == "load_ms" else float(found[-1]) if found else None
        out[key] = value * 1000 if found else None
    missing = [k for k in ("text_ms", "step_ms", "vae_ms") if out[k] is None]
    if missing:
        sys.exit(f"{sys.argv[1]}: no timing line for {', '.join(missing)}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
