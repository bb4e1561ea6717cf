#!/usr/bin/env python3
"""PyTorch DistributedDataParallel peer of bench/scaling.ts: DCGAN on the `dcgan` networks (models.py), backend gloo,
RANKS processes × 1 thread on 127.0.0.1, the global batch split over the ranks, the iteration of train.py.

  /usr/bin/python3 bench/reference/ddp.py SIZE GLOBAL_BATCH ITERS [RANKS=2]    # one JSON line: img/s

The first iteration warms up; img/s = global batch / median of the other iterations' times on rank 0 (every rank
steps in lockstep). G and D are each wrapped in DDP (25 MB buckets, broadcast_buffers=False: BatchNorm statistics stay
per rank, as in mrigan without --sync-bn). train.py's `iteration` calls D three times per DCGAN iteration; the third
(the G step, after optD.step()) goes to the bare module, so D's gradients are all-reduced once per iteration, as in
mrigan, not again during G's backward.
"""
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import dcgan_discriminator, dcgan_generator  # noqa: E402
from train import iteration  # noqa: E402


class RoutedD:
    """D for iteration(): through DDP between optD.zero_grad() and optD.step(), the bare module after (the G step)."""

    def __init__(self, ddp):
        self.ddp, self.bare = ddp, False

    def __call__(self, x):
        return (self.ddp.module if self.bare else self.ddp)(x)


class RoutingAdam:
    def __init__(self, opt, d):
        self.opt, self.d = opt, d

    def zero_grad(self):
        self.d.bare = False
        self.opt.zero_grad()

    def step(self):
        self.opt.step()
        self.d.bare = True


def run(rank, ranks, port, size, batch, iters, out):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=ranks)
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's at wrap time)
    G = DDP(dcgan_generator(size).train(), broadcast_buffers=False)
    Dd = DDP(dcgan_discriminator(size).train(), broadcast_buffers=False)
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    D = RoutedD(Dd)
    optD = RoutingAdam(torch.optim.Adam(Dd.parameters(), lr=2e-4, betas=(0.5, 0.999)), D)
    torch.manual_seed(1 + rank)
    local = batch // ranks
    real = torch.rand(local, 1, size, size) * 2 - 1
    times = []
    dist.barrier()
    for _ in range(iters):
        t = time.perf_counter()
        iteration('dcgan', G, D, optG, optD, real, 100)
        times.append(time.perf_counter() - t)
    if rank == 0:
        sec = statistics.median(times[1:])
        grad_bytes = 4 * sum(p.numel() for m in (G, Dd) for p in m.parameters())
        with open(out, 'w') as f:
            json.dump({'ranks': ranks, 'threads': torch.get_num_threads(), 'size': size, 'batch': batch, 'iters': iters,
                       'step_ms': [1e3 * s for s in times[1:]], 'img_per_s': batch / sec, 'grad_bytes': grad_bytes,
                       'torch': torch.__version__}, f)
    dist.destroy_process_group()


def main():
    size, batch, iters = (int(a) for a in sys.argv[1:4])
    ranks = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    if batch % ranks:
        sys.exit(f'ddp.py: global batch {batch} must divide by {ranks} ranks')
    with socket.socket() as s:  # a free loopback port
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = f'/tmp/mrigan-ddp-{os.getpid()}.json'
    mp.spawn(run, args=(ranks, port, size, batch, iters, out), nprocs=ranks, join=True)
    with open(out) as f:
        print(f.read(), flush=True)
    os.remove(out)


if __name__ == '__main__':
    main()
