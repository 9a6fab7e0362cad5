#!/usr/bin/env python3
"""The PyTorch side of the benchmarks: the same MMDiT forward, VAE decode and text encoding (Qwen3 layers) as
ovis-image's, written with plain torch ops, timed the same way (median of runs after a warm-up). Prints one JSON
line.

CPU (beside bench/cpp/bench_cpu_model.cpp, via bench/run-cpu.sh): f32 compute from bf16-valued weights.
  python3 bench/torch_reference.py --threads 2 [--runs 3] [--stages mmdit,vae,text] [--dim 1024 --heads 8 --double 2
         --single 4 --img 1024 --txt 256] [--vae-size 512 --vae-channels 32,64,128,128]
         [--text-layers 4 --text-tokens 284 --text-batch 2]
GPU (beside ovis_bench_gpu, via scripts/gpu-check.sh): the full-size networks in bf16, batch 2 (CFG).
  python3 bench/torch_reference.py --device cuda --dtype bf16 --full [--runs 3]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


DEVICE, DTYPE = "cpu", torch.float32


def rand_w(*shape, scale=0.02):
    # bf16-representable values like a real checkpoint, computed in DTYPE on DEVICE
    return (torch.randn(*shape, device=DEVICE) * scale).to(torch.bfloat16).to(DTYPE)


def lin(x, w, b=None):
    return F.linear(x, w, b)


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def ln_mod(x, shift, scale, eps=1e-6):
    return F.layer_norm(x, x.shape[-1:], eps=eps) * (1 + scale[:, None]) + shift[:, None]


def rope_tables(ids, axes, theta):
    # interleaved 3-axis rope: returns cos, sin [S, hd/2]
    angles = []
    for a, d in enumerate(axes):
        freqs = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64, device=ids.device) / d)
        angles.append(ids[:, a:a + 1].double() * freqs[None])
    ang = torch.cat(angles, -1)
    return ang.cos().to(DTYPE), ang.sin().to(DTYPE)


def rope(x, cos, sin):
    # x [B, H, S, hd], pairs (2i, 2i+1)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, None], sin[None, None]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(-2)


def attention(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


class MMDiT:
    def __init__(self, dim, heads, n_double, n_single, ctx_dim=2048, mlp_ratio=4, in_ch=64, axes=(16, 56, 56)):
        self.dim, self.heads, self.hd = dim, heads, dim // heads
        self.axes = axes
        f = dim * mlp_ratio
        self.f = f
        D = dim
        self.img_in = (rand_w(D, in_ch), rand_w(D))
        self.txt_norm = rand_w(ctx_dim) + 1
        self.txt_in = (rand_w(D, ctx_dim), rand_w(D))
        self.t0 = (rand_w(D, 256), rand_w(D))
        self.t1 = (rand_w(D, D), rand_w(D))
        self.double = []
        for _ in range(n_double):
            blk = {}
            for s in ("img", "txt"):
                blk[s] = dict(mod=(rand_w(6 * D, D), rand_w(6 * D)), qkv=(rand_w(3 * D, D), rand_w(3 * D)),
                              qn=rand_w(self.hd) + 1, kn=rand_w(self.hd) + 1, proj=(rand_w(D, D), rand_w(D)),
                              mlp_in=(rand_w(2 * f, D), rand_w(2 * f)), mlp_out=(rand_w(D, f), rand_w(D)))
            self.double.append(blk)
        self.single = [dict(mod=(rand_w(3 * D, D), rand_w(3 * D)), l1=(rand_w(3 * D + 2 * f, D), rand_w(3 * D + 2 * f)),
                            qn=rand_w(self.hd) + 1, kn=rand_w(self.hd) + 1, l2=(rand_w(D, D + f), rand_w(D)))
                       for _ in range(n_single)]
        self.final_mod = (rand_w(2 * D, D), rand_w(2 * D))
        self.final = (rand_w(in_ch, D), rand_w(in_ch))

    def heads_split(self, x):
        B, S, _ = x.shape
        return x.view(B, S, self.heads, self.hd).transpose(1, 2)

    def qkv(self, n, p, qn, kn, cos, sin):
        qkv = lin(n, *p)
        q, k, v = qkv.chunk(3, -1)
        q = rms(self.heads_split(q), qn)
        k = rms(self.heads_split(k), kn)
        return q, k, self.heads_split(v)

    def forward(self, x, ctx, t, img_ids, txt_ids):
        D, f = self.dim, self.f
        x = lin(x, *self.img_in)
        c = lin(rms(ctx, self.txt_norm), *self.txt_in)
        freqs = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float32, device=t.device) / 128)
        arg = (t.float() * 1000)[:, None] * freqs[None]
        temb = torch.cat([arg.cos(), arg.sin()], -1).to(DTYPE)
        temb = lin(F.silu(lin(temb, *self.t0)), *self.t1)
        st = F.silu(temb)
        cos, sin = rope_tables(torch.cat([txt_ids, img_ids]), self.axes, 10000.0)
        T = c.shape[1]
        for blk in self.double:
            mi = lin(st, *blk["img"]["mod"]).chunk(6, -1)
            mt = lin(st, *blk["txt"]["mod"]).chunk(6, -1)
            qi, ki, vi = self.qkv(ln_mod(x, mi[0], mi[1]), blk["img"]["qkv"], blk["img"]["qn"], blk["img"]["kn"], cos, sin)
            qt, kt, vt = self.qkv(ln_mod(c, mt[0], mt[1]), blk["txt"]["qkv"], blk["txt"]["qn"], blk["txt"]["kn"], cos, sin)
            q = rope(torch.cat([qt, qi], 2), cos, sin)
            k = rope(torch.cat([kt, ki], 2), cos, sin)
            v = torch.cat([vt, vi], 2)
            a = attention(q, k, v).transpose(1, 2).flatten(2)
            at, ai = a[:, :T], a[:, T:]
            x = x + mi[2][:, None] * lin(ai, *blk["img"]["proj"])
            c = c + mt[2][:, None] * lin(at, *blk["txt"]["proj"])
            for s, m in (("img", mi), ("txt", mt)):
                h = x if s == "img" else c
                u = lin(ln_mod(h, m[3], m[4]), *blk[s]["mlp_in"])
                up, gate = u.chunk(2, -1)
                h = h + m[5][:, None] * lin(up * F.silu(gate), *blk[s]["mlp_out"])
                if s == "img":
                    x = h
                else:
                    c = h
        h = torch.cat([c, x], 1)
        for blk in self.single:
            m = lin(st, *blk["mod"]).chunk(3, -1)
            n = ln_mod(h, m[0], m[1])
            l1 = lin(n, *blk["l1"])
            q, k, v, up, gate = l1.split([D, D, D, f, f], -1)
            q = rope(rms(self.heads_split(q), blk["qn"]), cos, sin)
            k = rope(rms(self.heads_split(k), blk["kn"]), cos, sin)
            a = attention(q, k, self.heads_split(v)).transpose(1, 2).flatten(2)
            h = h + m[2][:, None] * lin(torch.cat([a, up * F.silu(gate)], -1), *blk["l2"])
        x = h[:, T:]
        shift, scale = lin(st, *self.final_mod).chunk(2, -1)
        return lin(ln_mod(x, shift, scale), *self.final)


def conv_w(cout, cin, k):
    return rand_w(cout, cin, k, k, scale=1.0 / math.sqrt(cin * k * k)), rand_w(cout)


class VAEDecoder:
    def __init__(self, channels, layers_per_block=2, latent=16, groups=32):
        ch = list(reversed(channels))
        self.groups = groups
        self.conv_in = conv_w(ch[0], latent, 3)

        def res(cin, cout):
            r = dict(n1=(rand_w(cin) + 1, rand_w(cin)), c1=conv_w(cout, cin, 3), n2=(rand_w(cout) + 1, rand_w(cout)),
                     c2=conv_w(cout, cout, 3))
            if cin != cout:
                r["sc"] = conv_w(cout, cin, 1)
            return r
        c0 = ch[0]
        self.mid = [res(c0, c0), res(c0, c0)]
        self.attn = dict(n=(rand_w(c0) + 1, rand_w(c0)), q=(rand_w(c0, c0), rand_w(c0)), k=(rand_w(c0, c0), rand_w(c0)),
                         v=(rand_w(c0, c0), rand_w(c0)), o=(rand_w(c0, c0), rand_w(c0)))
        self.ups = []
        prev = c0
        for i, c in enumerate(ch):
            blocks = []
            for _ in range(layers_per_block + 1):
                blocks.append(res(prev, c))
                prev = c
            up = conv_w(c, c, 3) if i < len(ch) - 1 else None
            self.ups.append((blocks, up))
        self.norm_out = (rand_w(prev) + 1, rand_w(prev))
        self.conv_out = conv_w(3, prev, 3)

    def gn(self, x, p, silu=True):
        y = F.group_norm(x, self.groups, p[0], p[1], eps=1e-6)
        return F.silu(y) if silu else y

    def resnet(self, x, r):
        h = F.conv2d(self.gn(x, r["n1"]), *r["c1"], padding=1)
        h = F.conv2d(self.gn(h, r["n2"]), *r["c2"], padding=1)
        if "sc" in r:
            x = F.conv2d(x, *r["sc"])
        return x + h

    def forward(self, z):
        x = F.conv2d(z, *self.conv_in, padding=1)
        x = self.resnet(x, self.mid[0])
        B, C, H, W = x.shape
        n = self.gn(x, self.attn["n"], silu=False).flatten(2).transpose(1, 2)
        q, k, v = (lin(n, *self.attn[s])[:, None] for s in "qkv")
        a = F.scaled_dot_product_attention(q, k, v)[:, 0]
        x = x + lin(a, *self.attn["o"]).transpose(1, 2).reshape(B, C, H, W)
        x = self.resnet(x, self.mid[1])
        for blocks, up in self.ups:
            for r in blocks:
                x = self.resnet(x, r)
            if up is not None:
                x = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), *up, padding=1)
        return F.conv2d(self.gn(x, self.norm_out), *self.conv_out, padding=1)


class Qwen3:
    """Decoder layers of the text encoder at the released width: RMSNorm, GQA attention with per-head q/k
    RMSNorm and rotate-half RoPE (theta 1e6), causal; SwiGLU MLP; final RMSNorm."""

    def __init__(self, layers, hidden=2048, heads=16, kv_heads=8, hd=128, inter=6144, vocab=4096):
        self.heads, self.kv_heads, self.hd = heads, kv_heads, hd
        self.embed = rand_w(vocab, hidden, scale=1.0)
        one = lambda n: torch.ones(n, device=DEVICE, dtype=DTYPE)  # noqa: E731
        self.layers = [dict(n1=one(hidden), qkv=rand_w((heads + 2 * kv_heads) * hd, hidden), qn=one(hd), kn=one(hd),
                            o=rand_w(hidden, heads * hd), n2=one(hidden), up=rand_w(inter, hidden),
                            gate=rand_w(inter, hidden), down=rand_w(hidden, inter)) for _ in range(layers)]
        self.norm = one(hidden)

    def forward(self, ids):
        B, T = ids.shape
        inv = 1.0 / 1e6 ** (torch.arange(0, self.hd, 2, dtype=torch.float64, device=DEVICE) / self.hd)
        ang = torch.arange(T, dtype=torch.float64, device=DEVICE)[:, None] * inv[None]
        ang = torch.cat([ang, ang], -1)
        cos, sin = ang.cos().to(DTYPE)[None, None], ang.sin().to(DTYPE)[None, None]

        def rope_half(x):  # x [B, H, T, hd]
            x1, x2 = x[..., :self.hd // 2], x[..., self.hd // 2:]
            return x * cos + torch.cat([-x2, x1], -1) * sin

        x = self.embed[ids]
        q_dim, kv_dim = self.heads * self.hd, self.kv_heads * self.hd
        for p in self.layers:
            qkv = lin(rms(x, p["n1"]), p["qkv"])
            q = rms(qkv[..., :q_dim].view(B, T, self.heads, self.hd), p["qn"]).transpose(1, 2)
            k = rms(qkv[..., q_dim:q_dim + kv_dim].view(B, T, self.kv_heads, self.hd), p["kn"]).transpose(1, 2)
            v = qkv[..., q_dim + kv_dim:].view(B, T, self.kv_heads, self.hd).transpose(1, 2)
            a = F.scaled_dot_product_attention(rope_half(q), rope_half(k), v, is_causal=True, enable_gqa=True)
            x = x + lin(a.transpose(1, 2).reshape(B, T, q_dim), p["o"])
            h = rms(x, p["n2"])
            x = x + lin(F.silu(lin(h, p["gate"])) * lin(h, p["up"]), p["down"])
        return rms(x, self.norm)


def sync():
    if DEVICE != "cpu":
        torch.cuda.synchronize()


def timed(fn, runs):
    fn()  # warm-up
    sync()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--stages", default="mmdit,vae", help="which of mmdit, vae, text to time")
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--double", type=int, default=2)
    p.add_argument("--single", type=int, default=4)
    p.add_argument("--img", type=int, default=1024, help="image tokens (a square grid)")
    p.add_argument("--txt", type=int, default=256)
    p.add_argument("--vae-size", type=int, default=512)
    p.add_argument("--vae-channels", default="32,64,128,128")
    p.add_argument("--text-layers", type=int, default=4)
    p.add_argument("--text-tokens", type=int, default=284)
    p.add_argument("--text-batch", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    p.add_argument("--full", action="store_true",
                   help="the released sizes: D=3072, 24 heads, 6+27 blocks, 4096+256 tokens, batch 2, "
                        "VAE 1024x1024 with channels 128,256,512,512")
    a = p.parse_args()
    if a.full:
        a.dim, a.heads, a.double, a.single, a.img, a.txt, a.batch = 3072, 24, 6, 27, 4096, 256, 2
        a.vae_size, a.vae_channels = 1024, "128,256,512,512"
    global DEVICE, DTYPE
    DEVICE, DTYPE = a.device, torch.bfloat16 if a.dtype == "bf16" else torch.float32
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    stages = a.stages.split(",")
    out = {"impl": "pytorch " + torch.__version__, "device": DEVICE, "dtype": a.dtype, "threads": a.threads,
           "batch": a.batch}
    with torch.inference_mode():
        if "mmdit" in stages:
            side = int(math.isqrt(a.img))
            model = MMDiT(a.dim, a.heads, a.double, a.single)
            x = torch.randn(a.batch, a.img, 64, device=DEVICE, dtype=DTYPE)
            ctx = torch.randn(a.batch, a.txt, 2048, device=DEVICE, dtype=DTYPE)
            t = torch.full((a.batch,), 0.7, device=DEVICE)
            img_ids = torch.tensor([[0, r, c] for r in range(side) for c in range(side)], dtype=torch.float32,
                                   device=DEVICE)
            txt_ids = torch.zeros(a.txt, 3, device=DEVICE)
            out["mmdit_ms"] = timed(lambda: model.forward(x, ctx, t, img_ids, txt_ids), a.runs)
            del model
        if "vae" in stages:
            vae = VAEDecoder([int(c) for c in a.vae_channels.split(",")])
            z = torch.randn(1, 16, a.vae_size // 8, a.vae_size // 8, device=DEVICE, dtype=DTYPE)
            out["vae_ms"] = timed(lambda: vae.forward(z), a.runs)
            del vae
        if "text" in stages:
            te = Qwen3(a.text_layers)
            ids = torch.randint(0, 4096, (a.text_batch, a.text_tokens), device=DEVICE)
            out["text_ms"] = timed(lambda: te.forward(ids), a.runs)
    if DEVICE != "cpu":
        out["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 1e9
    print(json.dumps(out))


if __name__ == "__main__":
    main()
