#!/usr/bin/env python3
"""PyTorch peer of bench/ops.ts: times forward, backward-data and backward-weight of every conv and conv-transpose
layer of the pinned `dcgan` 256x256 architecture (docs/design.md §4), and of cepa2024's two dense layers, on the CPU, with the
same shapes and thread count.

Run:  /usr/bin/python3 bench/reference/ops.py [--threads N] [--batch 8] [--only G3,D2] [--json]
      (bench/ops.ts runs it with --serve, asking for one layer at a time between its own measurements, and checks
      that the shapes agree with its own list)

The backward passes call aten.convolution_backward with one output_mask entry set, which is what autograd runs for
Conv2d / ConvTranspose2d, so each pass is timed alone. Each row: 2 warm-up calls, then repeats until ~0.3 s have
passed (at least 3, at most 25); the minimum is reported (the least disturbed on a shared machine).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import time_ms  # noqa: E402

# name, kind, in channels, out channels, input size, kernel, stride, padding (batch from --batch)
LAYERS = [
    ("G1", "convT", 100, 1024, 1, 4, 1, 0),
    ("G2", "convT", 1024, 512, 4, 4, 2, 1),
    ("G3", "convT", 512, 256, 8, 4, 2, 1),
    ("G4", "convT", 256, 128, 16, 4, 2, 1),
    ("G5", "convT", 128, 64, 32, 4, 2, 1),
    ("G6", "convT", 64, 32, 64, 4, 2, 1),
    ("G7", "convT", 32, 1, 128, 4, 2, 1),
    ("D1", "conv", 1, 32, 256, 4, 2, 1),
    ("D2", "conv", 32, 64, 128, 4, 2, 1),
    ("D3", "conv", 64, 128, 64, 4, 2, 1),
    ("D4", "conv", 128, 256, 32, 4, 2, 1),
    ("D5", "conv", 256, 512, 16, 4, 2, 1),
    ("D6", "conv", 512, 1024, 8, 4, 2, 1),
    ("D7", "conv", 1024, 1, 4, 4, 1, 0),
    # cepa2024's dense layers (docs/design.md §4): generator z(128) -> 4*4*1024, critic head 16384 -> 1
    ("E1", "conv", 256, 256, 16, 3, 1, 1),
    ("E2", "conv", 512, 512, 8, 3, 1, 1),
    ("E3", "conv", 1024, 1024, 4, 3, 1, 1),
    ("G8", "convT", 1, 1, 256, 3, 1, 1),
    ("L1", "dense", 128, 16384, 1, 1, 1, 0),
    ("L2", "dense", 16384, 1, 1, 1, 1, 0),
]


def bench_dense(name, cin, cout, batch):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, generator=g)
    w = torch.randn(cout, cin, generator=g) * 0.02
    dy = torch.randn(batch, cout, generator=g)
    flops = 2.0 * batch * cin * cout
    rows = []
    for pass_name, fn in (("fwd", lambda: F.linear(x, w)), ("bwd-data", lambda: dy.mm(w)), ("bwd-weight", lambda: dy.t().mm(x))):
        with torch.no_grad():
            ms, reps = time_ms(fn, min)
        rows.append({"name": name, "kind": "dense", "pass": pass_name, "shape": f"{batch}x{cin}->{batch}x{cout}", "ms": ms,
                     "reps": reps, "gflops": flops / ms / 1e6})
    return rows


def bench_layer(name, kind, cin, cout, size, k, s, p, batch):
    if kind == "dense":
        return bench_dense(name, cin, cout, batch)
    g = torch.Generator().manual_seed(0)
    if kind == "conv":
        out = (size + 2 * p - k) // s + 1
        x = torch.randn(batch, cin, size, size, generator=g)
        w = torch.randn(cout, cin, k, k, generator=g) * 0.02
        fwd = lambda: F.conv2d(x, w, None, s, p)
    else:
        out = (size - 1) * s - 2 * p + k
        x = torch.randn(batch, cin, size, size, generator=g)
        w = torch.randn(cin, cout, k, k, generator=g) * 0.02  # IOHW
        fwd = lambda: F.conv_transpose2d(x, w, None, s, p)
    dy = torch.randn(batch, cout, out, out, generator=g)
    transposed = kind == "convT"

    def bwd(mask):
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], transposed, [0, 0], 1, mask)

    conv_in, conv_out = (cin, cout) if kind == "conv" else (cout, cin)  # the equivalent conv's channels
    conv_pix = out * out if kind == "conv" else size * size  # pixels of the conv's output
    flops = 2.0 * batch * conv_in * conv_out * k * k * conv_pix
    rows = []
    for pass_name, fn in (("fwd", fwd), ("bwd-data", bwd([True, False, False])), ("bwd-weight", bwd([False, True, False]))):
        with torch.no_grad():
            ms, reps = time_ms(fn, min)
        rows.append({"name": name, "kind": kind, "pass": pass_name, "shape": f"{batch}x{cin}x{size}x{size}->{batch}x{cout}x{out}x{out} k{k} s{s} p{p}",
                     "ms": ms, "reps": reps, "gflops": flops / ms / 1e6})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--only", default="", help="comma-separated layer names")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve", action="store_true", help="read layer names from stdin, answer one JSON line each")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available()}
    if a.serve:  # bench/ops.ts alternates its own rows with ours, layer by layer, so both see the same machine state
        print(json.dumps({"info": info}), flush=True)
        by_name = {layer[0]: layer for layer in LAYERS}
        for line in sys.stdin:
            name = line.strip()
            rows = bench_layer(*by_name[name], a.batch) if name in by_name else []
            print(json.dumps({"rows": rows}), flush=True)
        return
    only = set(filter(None, a.only.split(",")))
    rows = []
    for layer in LAYERS:
        if not only or layer[0] in only:
            rows += bench_layer(*layer, a.batch)
    if a.json:
        print(json.dumps({"info": info, "rows": rows}))
        return
    print(f"torch {info['torch']}, {info['threads']} threads, mkldnn {info['mkldnn']}")
    for r in rows:
        print(f"{r['name']:4} {r['pass']:10} {r['shape']:42} {r['ms']:9.2f} ms {r['gflops']:7.1f} GFLOP/s")


if __name__ == "__main__":
    main()
