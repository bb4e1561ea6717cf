#!/usr/bin/env python3
"""PyTorch peer of bench/misc-ops.ts: the non-conv ops (elementwise, activations, dropout, RNG, BatchNorm, BCE,
Adam, gradient-penalty norms) on the CPU with the same shapes and thread count.

Run:  /usr/bin/python3 bench/reference/misc_ops.py [--threads N] [--batch 8] [--json]

Each row: 2 warm-up calls, then repeats until ~0.3 s have passed (at least 3, at most 50); the median is reported.
BatchNorm backward calls aten.native_batch_norm_backward directly (what autograd runs); Adam is
torch.optim.Adam(foreach=False).step() over the `dcgan` generator's parameter shapes.
"""
import argparse
import json
import sys
import os
import statistics
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import time_ms  # noqa: E402


# dcgan generator parameters (docs/design.md §4): ConvT weights (no bias) and BN gamma/beta
G_PARAMS = [(100, 1024, 4, 4), (1024,), (1024,), (1024, 512, 4, 4), (512,), (512,), (512, 256, 4, 4), (256,), (256,),
            (256, 128, 4, 4), (128,), (128,), (128, 64, 4, 4), (64,), (64,), (64, 32, 4, 4), (32,), (32,), (32, 1, 4, 4)]


def rows(batch):
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.rand(*s, generator=g) * 2 - 1
    big = (batch, 32, 128, 128)
    x, y, dy = r(*big), r(*big), r(*big)
    b = r(32)
    out = []

    def add(name, shape, fn):
        ms, reps = time_ms(fn, statistics.median, hi=50)
        out.append({"name": name, "shape": "x".join(map(str, shape)), "ms": ms, "reps": reps})

    add("add", big, lambda: torch.add(x, y))
    add("axpy", big, lambda: y.add_(x, alpha=1e-3))
    add("sum", big, lambda: x.sum(dtype=torch.float64).item())
    add("biasAdd", big, lambda: y.add_(b.view(1, -1, 1, 1)))
    add("biasGrad", big, lambda: dy.sum((0, 2, 3)))
    add("lrelu fwd", big, lambda: F.leaky_relu(x, 0.2))
    add("lrelu bwd", big, lambda: torch.ops.aten.leaky_relu_backward(dy, x, 0.2, False))
    add("tanh fwd", big, lambda: torch.tanh(x))
    add("tanh bwd", big, lambda: torch.ops.aten.tanh_backward(dy, y))
    add("sigmoid fwd", big, lambda: torch.sigmoid(x))
    add("sigmoid bwd", big, lambda: torch.ops.aten.sigmoid_backward(dy, y))
    add("dropout fwd", big, lambda: F.dropout(x, 0.5, training=True))
    add("rand uniform", big, lambda: torch.rand(*big))
    add("rand normal", big, lambda: torch.randn(*big))
    for shape in [(batch, 64, 64, 64), (batch, 512, 8, 8), (batch, 16384)]:
        c = shape[1]
        xb, dyb = r(*shape), r(*shape)
        w, bb, rm, rv = r(c), r(c), torch.zeros(c), torch.ones(c)
        add("bn train fwd", shape, lambda: F.batch_norm(xb, rm, rv, w, bb, True, 0.1, 1e-5))
        _, sm, si = torch.ops.aten.native_batch_norm(xb, w, bb, rm, rv, True, 0.1, 1e-5)
        add("bn bwd", shape, lambda: torch.ops.aten.native_batch_norm_backward(dyb, xb, w, rm, rv, sm, si, True, 1e-5,
                                                                               [True, True, True]))
        add("bn eval", shape, lambda: F.batch_norm(xb, rm, rv, w, bb, False, 0.1, 1e-5))
    n = 1 << 20
    logits, targets = r(n) * 4, torch.rand(n, generator=g)

    def bce():
        xl = logits.clone().requires_grad_(True)
        loss = F.binary_cross_entropy_with_logits(xl, targets)
        loss.backward()
        return loss.item()
    add("bce+grad", (n,), bce)
    params = [torch.nn.Parameter(r(*s) * 0.02) for s in G_PARAMS]
    for p in params:
        p.grad = r(*p.shape)
    opt = torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999), foreach=False)
    add("adam dcgan-G", (sum(p.numel() for p in params),), opt.step)
    gshape = (batch, 1, 256, 256)
    gg = r(*gshape)

    def gp():
        norms = gg.flatten(1).norm(dim=1)
        val = (5 * (norms - 1) ** 2).mean().item()
        v = gg * (2 * 5 * (norms - 1) / (gshape[0] * norms)).view(-1, 1, 1, 1)
        return val, v
    add("gp norms+v", gshape, gp)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rs = rows(a.batch)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if a.json:
        print(json.dumps({"info": info, "rows": rs}))
    else:
        print(info)
        for r in rs:
            print(f"{r['name']:14s} {r['shape']:18s} {r['ms']:8.3f} ms")


if __name__ == "__main__":
    main()
