#!/usr/bin/env python3
"""PyTorch builds of mrigan's two pinned architectures (docs/design.md §4), layer for layer in the same order as
lib/models/*.ts, so that parameter names (nn.Sequential indices: `3.weight`, `4.running_mean`) and shapes match
the TypeScript models and weights exchange through safetensors without conversion.

Run:  /usr/bin/python3 bench/reference/models.py                  # parameter counts and output shapes at 64/128/256
      /usr/bin/python3 bench/reference/models.py --json > bench/reference/models.json   # what test/models.test.ts reads
      /usr/bin/python3 bench/reference/models.py check W.safetensors IO.safetensors ARCH ROLE SIZE
          loads mrigan's weights with load_state_dict(strict=True), runs the eval-mode forward on IO's `x` and
          compares with IO's `y` (mrigan's output); exit 1 beyond the tolerance
      /usr/bin/python3 bench/reference/models.py export ARCH ROLE SIZE W.safetensors IO.safetensors
          writes a PyTorch-initialised state_dict and an eval-mode (x, y) pair for mrigan to load and check
      /usr/bin/python3 bench/reference/models.py bench SIZE BATCH [REPS]     (threads: MRIGAN_THREADS or all cores)
          seconds per training-mode forward + backward of each network (the peer of bench/reference/models-bench.ts)
      (bench/reference/interop.ts drives both directions.) Debian's python3-safetensors is not packaged, so the
      files are read and written here by hand from the format's description (struct + json + torch.frombuffer).

Layer rules (same as lib/models):
- channels are tied to resolution: at r×r a `dcgan` feature map has width·128/r channels (w = 32 → 32 at 128,
  1024 at 4), whatever the image size; 64 and 128 drop the highest-resolution layers (the top), so `dcgan` at 64
  is Radford's original 64×64 DCGAN (1024 at 4×4).
- Generators take z as [n, latent] (an Unflatten / Linear comes first), so index 0 is the same in both languages.
- Dropout layers are always present (p may be 0), so indices do not depend on p.
"""
import argparse
import json
import math
import struct

import torch
from torch import nn


def dcgan_channels(r, width):
    return width * 128 // r


def dcgan_generator(size=256, latent=100, width=32, channels=1):
    n_up = int(math.log2(size // 4))
    ch = [dcgan_channels(4 << i, width) for i in range(n_up)]  # channels at 4, 8, ..., size/2
    layers = [nn.Unflatten(1, (latent, 1, 1)),
              nn.ConvTranspose2d(latent, ch[0], 4, 1, 0, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU()]
    for i in range(1, n_up):
        layers += [nn.ConvTranspose2d(ch[i - 1], ch[i], 4, 2, 1, bias=False), nn.BatchNorm2d(ch[i]), nn.ReLU()]
    layers += [nn.ConvTranspose2d(ch[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_discriminator(size=256, width=32, channels=1, dropout=0.0, bn=True):
    """bn=False: the textbook WGAN-GP critic (no BN, biases everywhere, linear score)."""
    n_down = int(math.log2(size // 4))
    ch = [dcgan_channels(size >> (i + 1), width) for i in range(n_down)]  # at size/2, ..., 4
    layers = [nn.Conv2d(channels, ch[0], 4, 2, 1, bias=True), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
    for i in range(1, n_down):
        layers.append(nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm2d(ch[i]))
        layers += [nn.LeakyReLU(0.2), nn.Dropout(dropout)]
    layers += [nn.Conv2d(ch[-1], 1, 4, 1, 0, bias=True), nn.Flatten()]
    return nn.Sequential(*layers)


CEPA_G_FILTERS = [512, 256, 128, 64, 32]  # then C; the 4×4 head has 1024 channels
# (filters, kernel, stride, output resolution at size 256) after the first Conv(32, k4 s2) [128]
CEPA_D_BLOCKS = [(64, 4, 2, 64), (128, 4, 2, 32), (256, 4, 2, 16), (256, 3, 1, 16), (512, 4, 2, 8), (512, 3, 1, 8),
                 (1024, 4, 2, 4)]
CEPA_D_FIRST = {256: 32, 128: 64, 64: 128}  # filters of the first (no-BN) conv: the channels at size/2


def keras_bn(c, two_d=True, eps=1e-3, momentum=0.01):
    return (nn.BatchNorm2d if two_d else nn.BatchNorm1d)(c, eps=eps, momentum=momentum)


def cepa_generator(size=256, latent=128, channels=1, dropout=0.2):
    n_up = int(math.log2(size // 4))
    filters = CEPA_G_FILTERS[:n_up - 1] + [channels]
    layers = [nn.Linear(latent, 4 * 4 * 1024), keras_bn(4 * 4 * 1024, two_d=False), nn.Unflatten(1, (1024, 4, 4))]
    cin = 1024
    for f in filters:
        layers += [nn.ConvTranspose2d(cin, f, 4, 2, 1), keras_bn(f), nn.Dropout(dropout), nn.LeakyReLU(0.2)]
        cin = f
    layers += [nn.ConvTranspose2d(cin, channels, 3, 1, 1), nn.Dropout(dropout), nn.Tanh()]
    return nn.Sequential(*layers)


def cepa_discriminator(size=256, channels=1):
    # Keep the blocks whose output resolution is below size/2 (same resolution → same filters as at 256).
    first = CEPA_D_FIRST[size]
    blocks = [b for b in CEPA_D_BLOCKS if b[3] < size // 2]
    layers = [nn.Conv2d(channels, first, 4, 2, 1), nn.LeakyReLU(0.2)]
    cin = first
    for f, k, s, _ in blocks:
        layers += [nn.Conv2d(cin, f, k, s, 1), keras_bn(f), nn.LeakyReLU(0.2)]
        cin = f
    layers += [nn.Conv2d(cin, 1024, 3, 1, 1), keras_bn(1024), nn.Sigmoid(), nn.Flatten(), nn.Linear(1024 * 4 * 4, 1)]
    return nn.Sequential(*layers)


def build(arch, role, size, channels=1):
    if arch == 'dcgan':
        if role == 'generator':
            return dcgan_generator(size, channels=channels), (2, 100)
        return dcgan_discriminator(size, channels=channels, bn=(role == 'discriminator')), (2, channels, size, size)
    if role == 'generator':
        return cepa_generator(size, channels=channels), (2, 128)
    return cepa_discriminator(size, channels=channels), (2, channels, size, size)


def describe(arch, role, size, channels=1):
    torch.manual_seed(0)
    m, in_shape = build(arch, role, size, channels)
    shapes = []
    h = torch.randn(*in_shape)
    m.train()
    for layer in m:
        h = layer(h)
        shapes.append(list(h.shape))
    return {
        'arch': arch, 'role': role, 'size': size, 'channels': channels,
        'params': sum(p.numel() for p in m.parameters()),
        'names': {k: list(v.shape) for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')},
        'shapes': shapes,
    }


DTYPES = {'F32': (torch.float32, 4), 'I64': (torch.int64, 8), 'F64': (torch.float64, 8)}


def read_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop('__metadata__', None)
    out = {}
    for name, e in header.items():
        dt, size = DTYPES[e['dtype']]
        b, end = e['data_offsets']
        raw = bytearray(buf[8 + n + b:8 + n + end])
        out[name] = (torch.frombuffer(raw, dtype=dt) if raw else torch.zeros(0, dtype=dt)).reshape(e['shape'])
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: 'F32', torch.int64: 'I64'}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def check(weights, io, arch, role, size):
    m, _ = build(arch, role, size)
    m.load_state_dict(read_safetensors(weights), strict=True)
    m.eval()
    t = read_safetensors(io)
    with torch.no_grad():
        y = m(t['x'])
    err = (y - t['y']).abs().max().item()
    scale = t['y'].abs().max().item()
    ok = err <= 1e-4 * scale + 1e-6
    print(f"{arch} {role} {size}: PyTorch eval forward on mrigan's weights vs mrigan's output: max |err| {err:.3g} "
          f"(max |y| {scale:.3g}) {'OK' if ok else 'MISMATCH'}")
    return ok


def export(arch, role, size, weights, io):
    torch.manual_seed(1)
    m, in_shape = build(arch, role, size)
    with torch.no_grad():  # non-trivial running statistics, so eval mode tests them too
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(7)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    m.eval()
    x = torch.randn(*in_shape)
    with torch.no_grad():
        y = m(x)
    write_safetensors(weights, m.state_dict())
    write_safetensors(io, {'x': x, 'y': y})


def bench(size, batch, reps=3):
    import os
    import time
    torch.set_num_threads(int(os.environ.get('MRIGAN_THREADS', os.cpu_count())))  # the same threads as mrigan's pool
    for arch, roles in (('dcgan', ('generator', 'discriminator', 'critic')), ('cepa2024', ('generator', 'discriminator'))):
        for role in roles:
            m, in_shape = build(arch, role, size)
            m.train()
            x = torch.randn(batch, *in_shape[1:], requires_grad=True)
            times = []
            for _ in range(reps + 1):
                t = time.perf_counter()
                y = m(x)
                y.backward(torch.ones_like(y))
                times.append(time.perf_counter() - t)
            print(f"{arch} {role} {size} batch {batch}: {min(times[1:]):.3f} s forward+backward (torch {torch.__version__}, "
                  f"{torch.get_num_threads()} threads)")


if __name__ == '__main__':
    import sys
    if len(sys.argv) > 1 and sys.argv[1] == 'bench':
        bench(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 3)
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == 'check':
        w, io, arch, role, size = sys.argv[2:7]
        sys.exit(0 if check(w, io, arch, role, int(size)) else 1)
    if len(sys.argv) > 1 and sys.argv[1] == 'export':
        arch, role, size, w, io = sys.argv[2:7]
        export(arch, role, int(size), w, io)
        sys.exit(0)
    ap = argparse.ArgumentParser()
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    out = []
    for arch, roles in (('dcgan', ('generator', 'discriminator', 'critic')), ('cepa2024', ('generator', 'discriminator'))):
        for role in roles:
            for size in (64, 128, 256):
                out.append(describe(arch, role, size))
    if a.json:
        print(json.dumps(out))
    else:
        for d in out:
            print(f"{d['arch']:9s} {d['role']:13s} {d['size']:3d}: {d['params']:>12,d} params, output {d['shapes'][-1]}")
