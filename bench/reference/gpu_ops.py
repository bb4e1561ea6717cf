#!/usr/bin/env python3
"""PyTorch + cuDNN peer of bench/gpu.ts, run on the GPU machine by scripts/device-check.sh (same card, same run).

Times every conv / conv-transpose layer of the `dcgan` architecture at 256×256 (docs/design.md §4; the networks are
bench/reference/models.py, layer for layer the same as lib/models) in each pass — forward, backward-data,
backward-weight, the last two separately through aten::convolution_backward with an output mask — and whole
training iterations (DCGAN: D step + G step; WGAN-GP: 3 critic steps with the autograd double-backprop gradient
penalty + G step; Adam(2e-4, 0.5, 0.999); the same iteration as bench/reference/train.py, on the GPU), in fp32 and
TF32 (torch.backends.cudnn.allow_tf32 and cuda.matmul.allow_tf32), batches 8 and 64. cudnn.benchmark = True, so
cuDNN picks its fastest algorithm per shape (mrigan times its own candidates the same way).

Timing: warm-up calls, then the mean over a loop of calls long enough for ≥ 20 ms between two CUDA events, best of
3 such loops; iterations: best of REPS after one warm-up iteration, synchronised. bench/gpu.ts times mrigan the
same way (its loops also include the per-call host overhead, as PyTorch's do).

  python3 bench/reference/gpu_ops.py --out torch.json [--batches 8,64] [--modes fp32,tf32] [--reps 3] [--no-iter]
  python3 bench/reference/gpu_ops.py --smoke      # no GPU needed: every code path once on the CPU at batch 1
Writes JSON {device, torch, cudnn, layers: [...], rows: [...]}; progress goes to stderr. Without a CUDA device it
writes the layer list with an empty row list and the reason, and exits 0.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import dcgan_discriminator, dcgan_generator  # noqa: E402
from train import iteration as train_iteration  # noqa: E402

SIZE, LATENT, LAMBDA, N_CRITIC = 256, 100, 5.0, 3


def layer_specs(size=SIZE):
    """The conv layers of G and D in order (G1..G7 transposed, D1..D7), from the PyTorch modules' own shapes."""
    specs = []
    for role, net, x in (('G', dcgan_generator(size), torch.zeros(1, LATENT)),
                         ('D', dcgan_discriminator(size), torch.zeros(1, 1, size, size))):
        k = 0
        for m in net:
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                k += 1
                t = isinstance(m, torch.nn.ConvTranspose2d)
                specs.append({'name': f'{role}{k}', 'transposed': t, 'cin': m.in_channels, 'cout': m.out_channels,
                              'h': x.shape[2], 'w': x.shape[3], 'k': m.kernel_size[0], 'stride': m.stride[0],
                              'pad': m.padding[0], 'outpad': m.output_padding[0] if t else 0, 'bias': m.bias is not None})
            x = m(x)
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                specs[-1]['oh'], specs[-1]['ow'] = x.shape[2], x.shape[3]
    return specs


def flops(s, batch):
    """2·MACs of the equivalent conv (the same for all three passes)."""
    small = (s['h'], s['w']) if s['transposed'] else (s['oh'], s['ow'])  # the conv's output grid
    return 2.0 * batch * s['cin'] * s['cout'] * s['k'] * s['k'] * small[0] * small[1]


def pass_fns(s, batch, dev):
    """Closures for forward, backward-data and backward-weight of layer s at this batch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, s['cin'], s['h'], s['w'], generator=g).to(dev)
    wshape = (s['cin'], s['cout'], s['k'], s['k']) if s['transposed'] else (s['cout'], s['cin'], s['k'], s['k'])
    w = (0.02 * torch.randn(*wshape, generator=g)).to(dev)
    b = torch.zeros(s['cout'], device=dev) if s['bias'] else None
    st, pd, op = [s['stride']] * 2, [s['pad']] * 2, [s['outpad']] * 2
    if s['transposed']:
        y = F.conv_transpose2d(x, w, b, st, pd, op)
    else:
        y = F.conv2d(x, w, b, st, pd)
    dy = torch.randn(y.shape, generator=g).to(dev)

    def bwd(mask):
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, st, pd, [1, 1], s['transposed'], op, 1, mask)

    fwd = (lambda: F.conv_transpose2d(x, w, b, st, pd, op)) if s['transposed'] else (lambda: F.conv2d(x, w, b, st, pd))
    return {'fwd': fwd, 'bwd-data': bwd([True, False, False]), 'bwd-weight': bwd([False, True, False])}


def time_gpu(fn, min_ms=20.0, trials=3):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    est = max((time.perf_counter() - t0) * 1e3, 1e-3)
    reps = int(min(500, max(3, min_ms / est)))
    best = float('inf')
    for _ in range(trials):
        a, z = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(reps):
            fn()
        z.record()
        z.synchronize()
        best = min(best, a.elapsed_time(z) / reps)
    return best


def iteration(model, G, D, optG, optD, real):
    return train_iteration(model, G, D, optG, optD, real, LATENT, N_CRITIC)


def time_iteration(model, batch, reps, dev):
    torch.manual_seed(0)
    G = dcgan_generator(SIZE).to(dev).train()
    D = dcgan_discriminator(SIZE, bn=(model == 'dcgan')).to(dev).train()
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, 1, SIZE, SIZE, device=dev) * 2 - 1
    iteration(model, G, D, optG, optD, real)  # warm-up (cuDNN autotune, allocator)
    if dev.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    best = float('inf')
    for _ in range(reps):
        t = time.perf_counter()
        iteration(model, G, D, optG, optD, real)  # .item() synchronises
        best = min(best, time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated() if dev.type == 'cuda' else 0
    return best * 1e3, peak


def set_mode(mode):
    on = mode == 'tf32'
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='-')
    ap.add_argument('--batches', default='8,64')
    ap.add_argument('--modes', default='fp32,tf32')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--no-iter', action='store_true')
    ap.add_argument('--budget', type=float, default=1e9, help='seconds: stop timing new rows after this (the file keeps the rows done)')
    ap.add_argument('--smoke', action='store_true', help='CPU, batch 1, one call per path: checks the script itself')
    a = ap.parse_args()
    t_start = time.perf_counter()
    specs = layer_specs()
    res = {'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
           'layers': specs, 'rows': []}

    if a.smoke:
        dev = torch.device('cpu')
        for s in specs:
            for name, fn in pass_fns(s, 1, dev).items():
                fn()
                res['rows'].append({'kind': 'op', 'mode': 'fp32', 'batch': 1, 'layer': s['name'], 'pass': name,
                                    'ms': None, 'flops': flops(s, 1)})
        for model in ('dcgan', 'wgan-gp'):
            ms, _ = time_iteration(model, 1, 1, dev)
            res['rows'].append({'kind': 'iter', 'model': model, 'mode': 'fp32', 'batch': 1, 'ms': ms, 'peak_bytes': 0})
        res['device'] = 'cpu (smoke test)'
        print(f"smoke: {len(res['rows'])} paths ran", file=sys.stderr)
    elif not torch.cuda.is_available():
        res['device'] = None
        res['skipped'] = 'no CUDA device visible to PyTorch'
        print('gpu_ops.py: no CUDA device: PyTorch GPU timings skipped', file=sys.stderr)
    else:
        dev = torch.device('cuda')
        torch.backends.cudnn.benchmark = True
        res['device'] = torch.cuda.get_device_name(0)
        for mode in a.modes.split(','):
            set_mode(mode)
            for batch in map(int, a.batches.split(',')):
                for s in specs:
                    if time.perf_counter() - t_start > a.budget:
                        res['truncated'] = f'time budget of {a.budget} s reached'
                        break
                    for name, fn in pass_fns(s, batch, dev).items():
                        ms = time_gpu(fn)
                        res['rows'].append({'kind': 'op', 'mode': mode, 'batch': batch, 'layer': s['name'], 'pass': name,
                                            'ms': ms, 'flops': flops(s, batch)})
                    print(f'  torch {mode} b{batch} {s["name"]}: ' + ', '.join(f'{r["pass"]} {r["ms"]:.3f} ms' for r in res['rows'][-3:]),
                          file=sys.stderr, flush=True)
                save(res, a.out)
                if not a.no_iter and time.perf_counter() - t_start < a.budget:
                    for model in ('dcgan', 'wgan-gp'):
                        ms, peak = time_iteration(model, batch, a.reps, dev)
                        res['rows'].append({'kind': 'iter', 'model': model, 'mode': mode, 'batch': batch, 'ms': ms, 'peak_bytes': peak})
                        print(f'  torch {mode} b{batch} {model} iteration: {ms:.2f} ms, peak {peak / 2**20:.0f} MiB', file=sys.stderr, flush=True)
                    save(res, a.out)
                torch.cuda.empty_cache()
    if 'truncated' in res:
        print(f"gpu_ops.py: {res['truncated']}: later rows skipped", file=sys.stderr)
    save(res, a.out, final=True)


def save(res, out, final=False):
    """Rewrites the whole file (small), so a run cut short still leaves the rows done so far."""
    text = json.dumps(res, indent=1)
    if out == '-':
        if final:
            print(text)
        return
    with open(out + '.tmp', 'w') as f:
        f.write(text + '\n')
    os.replace(out + '.tmp', out)


if __name__ == '__main__':
    main()
