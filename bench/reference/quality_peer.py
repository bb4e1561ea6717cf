#!/usr/bin/env python3
"""PyTorch peer for the sample-quality comparison (bench/quality.ts): trains the same `dcgan` networks (models.py) with
the same DCGAN iteration as train.py (BCE-with-logits, label noise a·U inward, non-saturating G step through the
updated D, Adam(lr, 0.5, 0.999)) on an mrigan dataset file, for a wall-time budget or a number of iterations, then
writes N generated images (BatchNorm batch statistics in chunks of 64, as mrigan's generate()).

  /usr/bin/python3 bench/reference/quality_peer.py DATA OUT_DIR '{"seconds": 300, "width": 8, "batch": 32, ...}'

OUT_DIR/samples.f32: float32 little-endian [n, 1, H, W]; OUT_DIR/info.json: steps, epochs, seconds, shape, config.
Threads: MRIGAN_THREADS (as mrigan), else all cores.
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import dcgan_generator, dcgan_discriminator  # noqa: E402


def read_dataset(path):
    """An mrigan dataset file (docs/dataset-format.md): 32-byte prefix, JSON header, slices at dataOffset."""
    with open(path, 'rb') as f:
        pre = f.read(32)
        if pre[:8] != b'MRIGANDS':
            sys.exit(f'{path}: not an mrigan dataset')
        jlen = int.from_bytes(pre[12:16], 'little')
        h = json.loads(f.read(jlen))
    n, c, hh, w = h['shape']
    dt = {'float32': np.float32, 'int16': np.int16, 'uint8': np.uint8}[h['dtype']]
    raw = np.fromfile(path, dtype=dt, count=n * hh * w, offset=h['dataOffset']).reshape(n, 1, hh, w)
    if h['dtype'] != 'float32':
        raw = raw.astype(np.float32) * h['scale'] + h['offset']
    return torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))


def main(data, out, cfg):
    torch.set_num_threads(int(os.environ.get('MRIGAN_THREADS', os.cpu_count())))
    torch.manual_seed(cfg.get('seed', 1))
    x = read_dataset(data)
    size, width, batch, latent = x.shape[2], cfg.get('width', 8), cfg.get('batch', 32), cfg.get('latent', 100)
    a, lr = cfg.get('labelNoise', 0.05), cfg.get('lr', 2e-4)
    G = dcgan_generator(size, latent=latent, width=width).train()
    D = dcgan_discriminator(size, width=width, dropout=cfg.get('dropout', 0.0)).train()
    for m in list(G.modules()) + list(D.modules()):  # mrigan's init (docs/design.md §4): N(0, 0.02), BN γ N(1, 0.02), β = 0
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    optG = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    seconds, max_steps = cfg.get('seconds', 1e9), cfg.get('steps', 1 << 60)
    t0, steps, epochs, per = time.perf_counter(), 0, 0, x.shape[0] // batch
    done = False
    while not done:
        order = torch.randperm(x.shape[0])
        for i in range(per):
            if time.perf_counter() - t0 >= seconds or steps >= max_steps:
                done = True
                break
            real = x[order[i * batch:(i + 1) * batch]]
            fake = G(torch.randn(batch, latent))
            optD.zero_grad()
            out_r, out_f = D(real), D(fake.detach())
            loss_d = bce(out_r, 1 - a * torch.rand_like(out_r)) + bce(out_f, a * torch.rand_like(out_f))
            loss_d.backward()
            optD.step()
            out_g = D(fake)
            loss_g = bce(out_g, torch.ones_like(out_g))
            optG.zero_grad()
            loss_g.backward()
            optG.step()
            steps += 1
        else:
            epochs += 1
    secs = time.perf_counter() - t0
    n = cfg.get('n', 256)
    imgs = []
    with torch.no_grad():
        for k in range(0, n, 64):
            imgs.append(G(torch.randn(min(64, n - k), latent)))
    os.makedirs(out, exist_ok=True)
    torch.cat(imgs).numpy().astype('<f4').tofile(os.path.join(out, 'samples.f32'))
    info = {'steps': steps, 'epochs': epochs, 'seconds': secs, 'shape': [n, 1, size, size], 'config': cfg,
            'threads': torch.get_num_threads(), 'torch': torch.__version__, 'loss_d': loss_d.item(), 'loss_g': loss_g.item()}
    with open(os.path.join(out, 'info.json'), 'w') as f:
        json.dump(info, f)
    print(json.dumps(info), flush=True)


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
