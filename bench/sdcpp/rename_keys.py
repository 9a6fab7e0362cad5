#!/usr/bin/env python3
"""Copies an official Ovis-Image safetensors file to one with the key names stable-diffusion.cpp reads (data copied
as is, only the header changes):
  te:  the Ovis2.5 text encoder, llm.model.* / llm.lm_head.* -> Hugging Face Qwen3 names model.* / lm_head.*
  dit: the MMDiT, semantic_txt_in.* -> txt_in.*, semantic_txt_norm.weight -> txt_norm.scale (ComfyUI's names)
Usage: python3 rename_keys.py te|dit <in.safetensors> <out.safetensors>
"""
import json
import shutil
import struct
import sys


def rename_te(key):
    return key[len("llm."):] if key.startswith("llm.") else key


def rename_dit(key):
    if key == "semantic_txt_norm.weight":
        return "txt_norm.scale"
    return "txt_in." + key[len("semantic_txt_in."):] if key.startswith("semantic_txt_in.") else key


def main():
    kind, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    rename = {"te": rename_te, "dit": rename_dit}[kind]
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        renamed = {rename(k): v for k, v in header.items()}
        text = json.dumps(renamed, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(dst + ".part", "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            shutil.copyfileobj(f, out, 64 << 20)
    shutil.move(dst + ".part", dst)
    changed = sum(k != rename(k) for k in header)
    print(f"{dst}: {changed} of {len(header)} keys renamed", file=sys.stderr)


if __name__ == "__main__":
    main()
