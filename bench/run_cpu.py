#!/usr/bin/env python3
"""Runs the CPU comparison for bench/run-cpu.sh: each named workload through our engine (bench_cpu_model) and
through PyTorch (bench/torch_reference.py), each side in the same number of separate processes, taken in turns
(ours, PyTorch, ours, PyTorch, ...) so that both meet the same quiet and busy moments of a shared machine. Each
process gives the median of its runs; each side's best (lowest) median is its figure: one process can land on a
slow moment, or a bad memory layout, and neither side should pay for it. With --bf16, the MMDiT and text-encoder
workloads also run our engine with --precision bf16 (a third side in the same turns), for the bf16 / f32 ratio. With --sdcpp, also the whole pipeline at 256x256, 1 step, beside stable-diffusion.cpp
(bench/sdcpp/run.sh). Prints a markdown table (and writes it to --out).

Usage: python3 bench/run_cpu.py --ours build-cpp/bench_cpu_model [--threads N] [--runs R] [--quick]
         [--workloads a,b] [--sdcpp] [--bf16] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FULL_VAE = "128,256,512,512"

# name -> (stage, arguments shared by both sides, description)
WORKLOADS = {
    "mmdit-1024": ("mmdit", ["--dim", "1024", "--heads", "8", "--double", "2", "--single", "4", "--img", "1024",
                             "--txt", "256"], "MMDiT forward, D=1024 (8x128), 2+4 blocks, 1024+256 tokens"),
    "mmdit-3072": ("mmdit", ["--dim", "3072", "--heads", "24", "--double", "1", "--single", "1", "--img", "1024",
                             "--txt", "256"], "MMDiT forward, D=3072 (24x128), 1+1 blocks, 1024+256 tokens"),
    "vae-quarter-512": ("vae", ["--vae-size", "512", "--vae-channels", "32,64,128,128"],
                        "VAE decode 512x512, channels 32,64,128,128"),
    "vae-full-256": ("vae", ["--vae-size", "256", "--vae-channels", FULL_VAE], "VAE decode 256x256, channels " + FULL_VAE),
    "vae-full-512": ("vae", ["--vae-size", "512", "--vae-channels", FULL_VAE], "VAE decode 512x512, channels " + FULL_VAE),
    "text-2048": ("text", ["--text-layers", "4", "--text-tokens", "284", "--text-batch", "2"],
                  "text encoder, 4 Qwen3 layers (hidden 2048, 16/8 heads x 128, MLP 6144), 2 x 284 tokens, causal"),
}
QUICK = ["mmdit-1024", "vae-full-256"]
TIMEOUT_S = 1800  # one process; bounds the whole run at (workloads x 2 x processes) of these


def run(cmd, timeout=TIMEOUT_S):
    """Runs cmd, returns (stdout, peak RSS in MB); raises on failure or timeout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            p.wait()
            raise RuntimeError(f"timed out after {timeout}s: {' '.join(cmd)}")
        time.sleep(0.2)
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(cmd)}\n{err[-2000:]}")
    return out, usage.ru_maxrss / 1024


def last_json(text):
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def cpu_has_bf16():
    """Whether this CPU has AVX512-BF16 (without it our --precision bf16 falls back to f32)."""
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return False


BF16_STAGES = ("mmdit", "text")  # the stages precision bf16 changes (the VAE stays f32)


def bench_workload(name, a):
    stage, args, _ = WORKLOADS[name]
    key = stage + "_ms"
    common = ["--threads", str(a.threads), "--runs", str(a.runs), "--stages", stage] + args
    with_bf16 = a.bf16 and stage in BF16_STAGES
    ours, ours_bf16, torch = [], [], []
    for i in range(a.processes):
        out, rss = run([a.ours] + common + ["--json"])
        ours.append(last_json(out)[key])
        print(f"  {name}: ours process {i + 1}/{a.processes}: median {ours[-1]:.0f} ms (peak RSS {rss:.0f} MB)",
              file=sys.stderr, flush=True)
        if with_bf16:
            out, rss = run([a.ours] + common + ["--json", "--precision", "bf16"])
            ours_bf16.append(last_json(out)[key])
            print(f"  {name}: ours bf16 process {i + 1}/{a.processes}: median {ours_bf16[-1]:.0f} ms "
                  f"(peak RSS {rss:.0f} MB)", file=sys.stderr, flush=True)
        out, rss = run([sys.executable, os.path.join(HERE, "torch_reference.py")] + common)
        res = last_json(out)
        torch.append(res[key])
        print(f"  {name}: PyTorch process {i + 1}/{a.processes}: median {res[key]:.0f} ms (peak RSS {rss:.0f} MB)",
              file=sys.stderr, flush=True)
    row = {"workload": name, "ours_ms": ours, "torch_ms": torch, "torch_impl": res["impl"]}
    if with_bf16:
        row["ours_bf16_ms"] = ours_bf16
    return row


def fmt(ms):
    return "–" if ms is None else f"{ms:.0f}"


def ratio(ours, peer):
    return "–" if ours is None or peer is None else f"{ours / peer:.2f}"


def table(rows, sdcpp_rows, a):
    bf16 = [["ours (bf16) best ms (each process)", "bf16 / f32"]] if a.bf16 else []
    extra_head = "".join(f" {h} |" for cols in bf16 for h in cols)
    lines = ["| stage | ours (f32) best ms (each process) | PyTorch best ms (each process) | ours / PyTorch "
             f"| sd.cpp ms | ours / sd.cpp | ours / best peer |{extra_head}",
             "|---|---|---|---|---|---|---|" + "---|" * (2 * len(bf16))]

    def best_each(ms):
        return f"{min(ms):.0f} ({', '.join(f'{t:.0f}' for t in ms)})"

    def bf16_cells(r):
        if not a.bf16:
            return ""
        if not r.get("ours_bf16_ms"):
            return " – | – |"
        return f" {best_each(r['ours_bf16_ms'])} | {ratio(min(r['ours_bf16_ms']), min(r['ours_ms']))} |"

    for r in rows:
        ours, best = min(r["ours_ms"]), min(r["torch_ms"])
        lines.append(f"| {WORKLOADS[r['workload']][2]} | {best_each(r['ours_ms'])} | {best_each(r['torch_ms'])} | "
                     f"{ratio(ours, best)} | – | – | {ratio(ours, best)} |{bf16_cells(r)}")
    for label, ours, theirs in sdcpp_rows:
        lines.append(f"| {label} | {fmt(ours)} | – | – | {fmt(theirs)} | {ratio(ours, theirs)} | {ratio(ours, theirs)} |"
                     + (" – | – |" if a.bf16 else ""))
    impl = rows[0]["torch_impl"] if rows else "pytorch"
    lines.append("")
    sides = "ours (f32), ours (bf16) and PyTorch" if a.bf16 else "ours and PyTorch"
    lines.append(f"threads {a.threads}; {sides} ({impl}): {a.processes} separate process(es) each, in turns, "
                 f"each process the median of {a.runs} runs after a warm-up; each side's best (lowest) median is "
                 "its figure.")
    if a.bf16 and not cpu_has_bf16():
        lines.append("This CPU has no AVX512-BF16: the bf16 columns ran the f32 fallback.")
    return "\n".join(lines)


def sdcpp_pipeline(a):
    """Whole pipeline at 256x256, 1 step, both sides (bench/sdcpp/run.sh); rows of (label, ours ms, sd.cpp ms)."""
    sides = {}
    for side in ("sdcpp", "ours"):
        out, rss = run(["bash", os.path.join(HERE, "sdcpp", "run.sh"), "--side", side, "--threads", str(a.threads)],
                       timeout=3600)
        sides[side] = last_json(out)
        print(f"  pipeline 256x256 1 step, {side}: {sides[side]} (peak RSS {rss:.0f} MB)", file=sys.stderr, flush=True)
    s, o = sides["sdcpp"], sides["ours"]
    return [
        ("pipeline 256x256: text encode (prompt + negative)", o.get("text_ms"), s.get("text_ms")),
        ("pipeline 256x256: 1 sampling step (CFG, 2 MMDiT forwards)", o.get("step_ms"), s.get("step_ms")),
        ("pipeline 256x256: VAE decode", o.get("vae_ms"), s.get("vae_ms")),
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ours", required=True, help="the bench_cpu_model binary")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--processes", type=int, default=3, help="separate processes per side and workload")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 run, 1 PyTorch process, smallest workloads")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--sdcpp", action="store_true")
    p.add_argument("--bf16", action="store_true",
                   help="also our engine with --precision bf16 on the MMDiT and text-encoder workloads")
    p.add_argument("--out")
    a = p.parse_args()
    names = a.workloads.split(",") if a.workloads else []
    if a.quick:
        a.runs, a.processes = 1, 1
        if a.workloads == ",".join(WORKLOADS):
            names = QUICK
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    rows, sdcpp_rows = [], []

    def save():  # after each workload, so a run cut short still leaves what it measured
        if a.out:
            with open(a.out, "w") as f:
                f.write(table(rows, sdcpp_rows, a) + "\n")
                f.write("\n```json\n" + json.dumps({"workloads": rows, "sdcpp": sdcpp_rows}, indent=1) + "\n```\n")

    for n in names:
        print(f"{n} ...", file=sys.stderr, flush=True)
        rows.append(bench_workload(n, a))
        save()
    if a.sdcpp:
        sdcpp_rows = sdcpp_pipeline(a)
        save()
    print(table(rows, sdcpp_rows, a))


if __name__ == "__main__":
    main()
