#!/usr/bin/env python3
"""Copies the official Ovis2.5 text-encoder file (keys llm.model.*, llm.lm_head.*) to one with Hugging Face
Qwen3 names (model.*, lm_head.*), the names stable-diffusion.cpp's --llm reads. Data is copied as is.
Usage: python3 rename_te.py <in.safetensors> <out.safetensors>
"""
import json
import shutil
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        renamed = {(k[len("llm."):] if k.startswith("llm.") else k): v for k, v in header.items()}
        text = json.dumps(renamed, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(dst + ".part", "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            shutil.copyfileobj(f, out, 64 << 20)
    shutil.move(dst + ".part", dst)
    print(f"{dst}: {len(renamed) - ('__metadata__' in renamed)} tensors renamed", file=sys.stderr)


if __name__ == "__main__":
    main()
