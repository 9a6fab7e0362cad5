#!/usr/bin/env python3
"""Writes the tokenizer headers stable-diffusion.cpp compiles in (src/tokenizers/vocab/*.hpp) that the source
mirror lacks: qwen_merges.hpp from a Qwen tokenizer.json's BPE merges (one "a b" per line, the format sd.cpp's
Qwen2Tokenizer reads), and empty stubs for the vocabularies of models the benchmark doesn't run.
Usage: python3 vocab_headers.py <qwen tokenizer.json> <out dir>
"""
import json
import os
import sys

STUBS = {
    "gemma2_merges.hpp": ["gemma2_merges_utf8_c_str"],
    "gemma2_vocab.hpp": ["gemma2_vocab_json_utf8_c_str"],
    "gemma_merges.hpp": ["gemma_merges_utf8_c_str"],
    "gemma_vocab.hpp": ["gemma_vocab_json_utf8_c_str"],
    "gpt_oss_merges.hpp": ["gpt_oss_merges_utf8_c_str"],
    "gpt_oss_vocab.hpp": ["gpt_oss_vocab_json_utf8_c_str"],
    "mistral_merges.hpp": ["mistral_merges_utf8_c_str"],
    "mistral_vocab.hpp": ["mistral_vocab_json_utf8_c_str"],
    "t5.hpp": ["t5_tokenizer_json_str"],
    "umt5.hpp": ["umt5_tokenizer_json_str"],
}


def c_array(name, data):
    body = ",".join(str(b) for b in data)
    return f"static const unsigned char {name}[] = {{{body}}};\n"


def main():
    tokenizer, out = sys.argv[1], sys.argv[2]
    merges = json.load(open(tokenizer, encoding="utf-8"))["model"]["merges"]
    lines = [m if isinstance(m, str) else " ".join(m) for m in merges]
    # the layout of Qwen2's merges.txt: a version line (sd.cpp skips the first line), then one merge per line, no
    # newline at the end (sd.cpp would read an empty last merge): 151387 merges put <|endoftext|> at id 151643
    text = ("#version: 0.2\n" + "\n".join(lines)).encode("utf-8")
    with open(os.path.join(out, "qwen_merges.hpp"), "w") as f:
        f.write(c_array("qwen2_merges_utf8_c_str", text))
    for file, names in STUBS.items():
        with open(os.path.join(out, file), "w") as f:
            # one space: sd.cpp wraps the array in a std::string of sizeof() bytes; these models are never run
            f.write("".join(c_array(n, b" ") for n in names))
    print(f"qwen_merges.hpp: {len(lines)} merges", file=sys.stderr)


if __name__ == "__main__":
    main()
